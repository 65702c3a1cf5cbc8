package modprobetest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/modprobetest"
)

// opener returns a function opening files of dir for the rest of the
// test.
func opener(t *testing.T, dir string) func(name string) *os.File {
	return func(name string) *os.File {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
}

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
	open := opener(t, dir)
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

// TestFakeKernelDecompressor: the fake decompresses as Linux's
// kernel/module/decompress.c does, with its log lines, and models a
// missing finit_module and an init function that fails.
func TestFakeKernelDecompressor(t *testing.T) {
	root := t.TempDir()
	dir, err := modprobetest.WriteTree(root, "6.12.0-t",
		modprobetest.Module{Name: "a", Path: "kernel/a.ko.xz"},
		modprobetest.Module{Name: "b"},
	)
	if err != nil {
		t.Fatal(err)
	}
	img, err := modprobe.ReadModuleFile(filepath.Join(dir, "kernel/a.ko.xz"), 0)
	if err != nil {
		t.Fatal(err)
	}
	crc64, err := testmod.Compress(img, testmod.XzCRC64)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kernel/a64.ko.xz"), crc64, 0o644); err != nil {
		t.Fatal(err)
	}
	k := modprobetest.NewKernel(t)
	if err := k.SetCompression("xz"); err != nil {
		t.Fatal(err)
	}
	open := opener(t, dir)
	lastLog := func() string {
		b, _ := os.ReadFile(k.KmsgPath())
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		_, msg, _ := strings.Cut(lines[len(lines)-1], ";")
		return msg
	}
	for _, tc := range []struct {
		file, log string
	}{
		{"kernel/a64.ko.xz", "decompression failed with status 6"},
		{"kernel/b.ko", "not an xz compressed module"},
	} {
		if err := k.FinitModule(open(tc.file), "", modprobe.InitCompressedFile); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("%s: %v, want EINVAL", tc.file, err)
		}
		if got := lastLog(); got != tc.log {
			t.Errorf("%s: the kernel logged %q, want %q", tc.file, got, tc.log)
		}
	}
	a := filepath.Join(dir, "kernel/a.ko.xz")
	k.FailDecompress(a)
	if err := k.FinitModule(open("kernel/a.ko.xz"), "", modprobe.InitCompressedFile); !errors.Is(err, syscall.EINVAL) || lastLog() != "decompression failed with status 7" {
		t.Errorf("a refused by FailDecompress: %v, log %q", err, lastLog())
	}

	// the probe for finit_module: a nil file
	if err := k.FinitModule(nil, "", 0); !errors.Is(err, syscall.EBADF) {
		t.Errorf("finit_module(-1): %v, want EBADF", err)
	}
	k.SetNoFinitModule(true)
	if err := k.FinitModule(nil, "", 0); !errors.Is(err, syscall.ENOSYS) {
		t.Errorf("finit_module(-1) without finit_module: %v, want ENOSYS", err)
	}
	if err := k.FinitModule(open("kernel/b.ko"), "", 0); !errors.Is(err, syscall.ENOSYS) || k.IsLive("b") {
		t.Errorf("finit_module without finit_module: %v", err)
	}
	k.SetNoFinitModule(false)

	// an init function that fails runs, logs, and leaves nothing live
	before := k.Inserted()
	k.FailInit("b", syscall.EINVAL)
	if err := k.FinitModule(open("kernel/b.ko"), "", 0); !errors.Is(err, syscall.EINVAL) || k.IsLive("b") {
		t.Errorf("failing init: %v", err)
	}
	if got := lastLog(); got != "b: init failed: invalid argument" {
		t.Errorf("failing init logged %q", got)
	}
	k.FailInit("b", nil)
	if err := k.FinitModule(open("kernel/b.ko"), "", 0); err != nil || !k.IsLive("b") {
		t.Errorf("init after FailInit(nil): %v", err)
	}
	if got, want := k.Inserted(), append(before, "b"); !slices.Equal(got, want) {
		t.Errorf("Inserted() = %v, want %v (the failed init not counted)", got, want)
	}
	ins := k.Inserts()
	var inits []bool
	for _, in := range ins {
		inits = append(inits, in.Init)
	}
	if want := []bool{false, false, false, false, true, true}; !slices.Equal(inits, want) {
		t.Errorf("Insert.Init of %+v, want %v", ins, want)
	}
}

// TestOptionsHermetic: a Loader from Options reads the fake system's
// modprobe.d and module root, not the host's, unless the test names
// others.
func TestOptionsHermetic(t *testing.T) {
	k, err := modprobetest.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opts := k.Options(modprobe.Options{})
	if len(opts.ConfigPaths) != 1 || opts.ConfigPaths[0] != k.ConfigDir() {
		t.Errorf("ConfigPaths = %q, want only the fake system's %q", opts.ConfigPaths, k.ConfigDir())
	}
	if opts.RootDir == "" || opts.RootDir == "/" {
		t.Errorf("RootDir = %q: the host's modules would be read", opts.RootDir)
	}
	if named := k.Options(modprobe.Options{ConfigPaths: []string{"/x"}, ModuleDir: "/m"}); named.ConfigPaths[0] != "/x" || named.RootDir != "" {
		t.Errorf("the test's own paths were replaced: %+v", named)
	}

	// The fake system's modprobe.d is what a load reads.
	root := t.TempDir()
	if _, err := modprobetest.WriteTree(root, "6.1.0-test", modprobetest.Module{Name: "drv", Params: []string{"q:int"}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(k.ConfigDir(), "drv.conf"), []byte("options drv q=3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := k.Open(t, modprobe.Options{RootDir: root, KernelRelease: "6.1.0-test"})
	if err := l.Load(context.Background(), "drv"); err != nil {
		t.Fatal(err)
	}
	if in := k.Inserts(); len(in) != 1 || strings.TrimSpace(in[0].Params) != "q=3" {
		t.Errorf("inserts %+v, want drv with q=3 from the fake modprobe.d", in)
	}
}

// A module with a srcversion shows it in sysfs once live, as with the
// kernel's CONFIG_MODULE_SRCVERSION_ALL; one without has no file.
func TestFakeKernelSrcversion(t *testing.T) {
	root := t.TempDir()
	_, err := modprobetest.WriteTree(root, "6.1.0", modprobetest.Module{Name: "with", SrcVersion: "ABCDEF0123456789ABCDEF01"}, modprobetest.Module{Name: "without"})
	require.NoError(t, err)
	k := modprobetest.NewKernel(t)
	l := k.Open(t, modprobe.Options{RootDir: root, KernelRelease: "6.1.0"})
	require.NoError(t, l.LoadAll(t.Context(), "with", "without"))
	b, err := os.ReadFile(filepath.Join(k.SysfsDir(), "module/with/srcversion"))
	require.NoError(t, err)
	require.Equal(t, "ABCDEF0123456789ABCDEF01\n", string(b))
	require.NoFileExists(t, filepath.Join(k.SysfsDir(), "module/without/srcversion"))
}
