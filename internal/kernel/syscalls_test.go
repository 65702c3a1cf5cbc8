package kernel

import (
	"errors"
	"os"
	"runtime"
	"syscall"
	"testing"
)

// This machine's kernel may have no module support at all; either way a
// module system call on /dev/null fails with an errno, never success.
func TestModuleSyscallsFail(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("module system calls exist on Linux only")
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, call := range map[string]func() error{
		"finit":     func() error { return FinitModule(f, "", 0) },
		"finit raw": func() error { return FinitModuleRaw(f, "", 0) },
		"init":      func() error { return InitModule([]byte("not a module"), "") },
		"delete":    func() error { return DeleteModule("gokmod_no_such_module", DeleteNonblock) },
	} {
		var errno syscall.Errno
		if err := call(); !errors.As(err, &errno) {
			t.Errorf("%s: %v, want an errno", name, err)
		}
	}
	if err := FinitModuleRaw(f, "a\x00b", 0); err == nil {
		t.Error("parameters with a NUL byte were accepted")
	}
}
