package modprobe_test

import (
	"errors"
	"os"
	"runtime"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
)

// RawKernel reaches the running kernel: on /dev/null, and with no file
// (the Loader's question whether finit_module exists), finit_module fails
// with an errno and loads nothing, whatever this machine allows.
func TestRawKernelReachesTheKernel(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("module system calls exist on Linux only")
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var k modprobe.Kernel = modprobe.RawKernel{}
	for name, call := range map[string]func() error{
		"finit /dev/null": func() error { return k.FinitModule(f, "", 0) },
		"finit no file":   func() error { return k.FinitModule(nil, "", 0) },
		"init":            func() error { return k.InitModule([]byte("not a module"), "") },
		"delete":          func() error { return k.DeleteModule("gokmod_no_such_module", modprobe.DeleteNonblock) },
	} {
		var errno syscall.Errno
		if err := call(); !errors.As(err, &errno) {
			t.Errorf("%s: %v, want an errno", name, err)
		}
	}
}
