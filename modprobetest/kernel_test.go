package modprobetest_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/modprobetest"
)

func TestFakeKernelSyscalls(t *testing.T) {
	root := t.TempDir()
	dir, err := modprobetest.WriteTree(root, "6.1.0-t",
		modprobetest.Module{Name: "a"},
		modprobetest.Module{Name: "b", Depends: []string{"a"}, Path: "kernel/b.ko.zst"},
	)
	if err != nil {
		t.Fatal(err)
	}
	k := modprobetest.NewKernel(t)
	open := func(name string) *os.File {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	if err := k.FinitModule(open("kernel/b.ko.zst"), "", modprobe.InitCompressedFile); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("compressed file on a kernel without decompression: %v", err)
	}
	if err := k.SetCompression("zstd"); err != nil {
		t.Fatal(err)
	}
	if err := k.FinitModule(open("kernel/b.ko.zst"), "", modprobe.InitCompressedFile); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("b before a: %v, want ENOENT", err)
	}
	if err := k.FinitModule(open("kernel/a.ko"), "", 0); err != nil {
		t.Fatal(err)
	}
	if err := k.FinitModule(open("kernel/a.ko"), "", 0); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("second insert: %v, want EEXIST", err)
	}
	if err := k.FinitModule(open("kernel/b.ko.zst"), "", modprobe.InitCompressedFile); err != nil {
		t.Fatal(err)
	}
	proc, _ := os.ReadFile(filepath.Join(k.ProcDir(), "modules"))
	if !strings.HasPrefix(string(proc), "b ") || !strings.Contains(string(proc), "\na ") || !strings.Contains(string(proc), " 1 b, Live") {
		t.Errorf("/proc/modules:\n%s", proc)
	}
	if err := k.DeleteModule("a", modprobe.DeleteNonblock); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Errorf("removing a held module: %v", err)
	}
	if err := k.DeleteModule("b", modprobe.DeleteNonblock); err != nil {
		t.Fatal(err)
	}
	if err := k.DeleteModule("b", modprobe.DeleteNonblock); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("removing an absent module: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(k.SysfsDir(), "module/a/refcnt")); string(b) != "0\n" {
		t.Errorf("a's refcnt %q after b left", b)
	}
	if n := len(k.Inserts()); n != 5 {
		t.Errorf("%d inserts recorded, want 5", n)
	}
	if err := k.InitModule([]byte("not an ELF file"), ""); !errors.Is(err, syscall.ENOEXEC) {
		t.Errorf("garbage image: %v", err)
	}
}
