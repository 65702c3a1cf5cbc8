package modprobe_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/modprobetest"
)

// The insert path against a fake kernel that decompresses one format, as
// Debian 13's 6.12 decompresses xz: see the comment at the top of
// insert.go. stackTree's c.ko.xz needs a and b, which are live here;
// zst.ko.zst needs a; gz.ko.gz and x.ko need nothing.

// newInsertTree returns stackTree with a and b live, on a fake kernel
// that decompresses format ("" for none).
func newInsertTree(t *testing.T, format string) *loadTree {
	t.Helper()
	lt := newLoadTree(t, stackTree, stackInfo)
	if err := lt.K.Preload("a"); err != nil {
		t.Fatal(err)
	}
	if err := lt.K.Preload("b", "a"); err != nil {
		t.Fatal(err)
	}
	if err := lt.K.SetCompression(format); err != nil {
		t.Fatal(err)
	}
	return lt
}

// insertsOf returns the fake kernel's inserts of the file at path.
func (lt *loadTree) insertsOf(path string) []modprobetest.Insert {
	var out []modprobetest.Insert
	name := testmod.ModName(path)
	for _, in := range lt.K.Inserts() {
		if in.File == path || in.File == "" && in.Module == name {
			out = append(out, in)
		}
	}
	return out
}

// initRuns counts the inserts of the file at path that ran its init.
func (lt *loadTree) initRuns(path string) int {
	n := 0
	for _, in := range lt.insertsOf(path) {
		if in.Init {
			n++
		}
	}
	return n
}

// kmsgCount counts the kernel log's messages that contain text.
func (lt *loadTree) kmsgCount(t *testing.T, text string) int {
	t.Helper()
	b, err := os.ReadFile(lt.K.KmsgPath())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if _, msg, ok := strings.Cut(line, ";"); ok && strings.Contains(msg, text) {
			n++
		}
	}
	return n
}

// recompress rewrites the module file rel of lt with c.
func (lt *loadTree) recompress(t *testing.T, rel string, c testmod.Compression) {
	t.Helper()
	img, err := modprobe.ReadModuleFile(lt.path(rel), 0)
	if err != nil {
		t.Fatal(err)
	}
	lt.rewrite(t, rel, compressed(t, img, c))
}

// rewrite replaces the module file rel of lt with data.
func (lt *loadTree) rewrite(t *testing.T, rel string, data []byte) {
	t.Helper()
	if err := os.WriteFile(lt.path(rel), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func compressed(t *testing.T, img []byte, c testmod.Compression) []byte {
	t.Helper()
	data, err := testmod.Compress(img, c)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// insertCases are a module file of each format on a kernel that
// decompresses it, and a plain one.
var insertCases = []struct{ kernel, module, rel string }{
	{"xz", "c", "kernel/c.ko.xz"},
	{"zstd", "zst", "kernel/zst.ko.zst"},
	{"gzip", "gz", "kernel/gz.ko.gz"},
	{"xz", "x", "kernel/x.ko"},
}

// TestInsertInitFailureRunsOnce: an errno from the module's own init (a
// bonding mode=bogus on Debian 13) is returned after one run of the init,
// also for the errnos that mean "no finit_module" or "no decompression"
// when the kernel gives them before loading anything; forced or not.
func TestInsertInitFailureRunsOnce(t *testing.T) {
	for _, tc := range insertCases {
		for _, errno := range []syscall.Errno{syscall.EINVAL, syscall.EOPNOTSUPP, syscall.ENOSYS} {
			for _, force := range []bool{false, true} {
				name := tc.kernel + "/" + tc.module + "/" + errno.Error()
				if force {
					name += "/forced"
				}
				t.Run(name, func(t *testing.T) {
					lt := newInsertTree(t, tc.kernel)
					lt.K.FailInit(tc.module, errno)
					l := lt.open(t, modprobe.Options{})
					err := l.LoadWith(context.Background(), tc.module, nil, modprobe.LoadOptions{ForceVermagic: force, ForceModversion: force})
					if !errors.Is(err, errno) {
						t.Fatalf("load: %v, want %v", err, errno)
					}
					if me := faultFind(err, "insert"); me == nil || !hasLinePrefix(me.KernelLog, tc.module+": init failed") {
						t.Errorf("error %v does not carry the module's log line", err)
					}
					ins := lt.insertsOf(lt.path(tc.rel))
					if len(ins) != 1 || !ins[0].Init || ins[0].File == "" || ins[0].Compressed != (tc.rel != "kernel/x.ko") {
						t.Errorf("inserts %+v, want one finit_module that ran the init", ins)
					}
					if n := lt.initRuns(lt.path(tc.rel)); n != 1 {
						t.Errorf("the init ran %d times, want 1", n)
					}
					if n := lt.kmsgCount(t, tc.module+": init failed"); n != 1 {
						t.Errorf("the init logged %d times, want 1", n)
					}
				})
			}
		}
	}
}

// hasLinePrefix reports whether one of msgs starts with prefix.
func hasLinePrefix(msgs []string, prefix string) bool {
	for _, m := range msgs {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// TestInsertDecompressFailureFallsBack: when the kernel's decompressor
// fails and says so in the log, nothing was loaded: gokmod decompresses
// the file itself and init_module loads it, once.
func TestInsertDecompressFailureFallsBack(t *testing.T) {
	for _, tc := range insertCases[:3] {
		t.Run(tc.kernel, func(t *testing.T) {
			lt := newInsertTree(t, tc.kernel)
			path := lt.path(tc.rel)
			lt.K.FailDecompress(path)
			l := lt.open(t, modprobe.Options{})
			if err := l.Load(context.Background(), tc.module); err != nil {
				t.Fatal(err)
			}
			ins := lt.insertsOf(path)
			if len(ins) != 2 || !ins[0].Compressed || !errors.Is(ins[0].Err, syscall.EINVAL) || ins[0].Init ||
				ins[1].File != "" || ins[1].Err != nil || !ins[1].Init {
				t.Errorf("inserts %+v, want a refused compressed finit_module, then init_module", ins)
			}
			if n := lt.initRuns(path); n != 1 {
				t.Errorf("the init ran %d times, want 1", n)
			}
			if n := lt.kmsgCount(t, "decompression failed with status"); n != 1 {
				t.Errorf("%d decompression failures logged, want 1", n)
			}
			if !lt.K.IsLive(tc.module) {
				t.Errorf("%s not live", tc.module)
			}
		})
	}
}

// TestInsertNoLogNoRetry: without a readable kernel log, the Loader cannot
// tell a decompression failure from the module's EINVAL, and returns it.
func TestInsertNoLogNoRetry(t *testing.T) {
	lt := newInsertTree(t, "xz")
	path := lt.path("kernel/c.ko.xz")
	lt.K.FailDecompress(path)
	opts := lt.K.Options(modprobe.Options{RootDir: lt.Root, KernelRelease: treeRelease, ConfigPaths: []string{lt.Conf}})
	opts.KmsgPath = lt.path("no-such-kmsg")
	l, err := modprobe.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = l.InsertFile(context.Background(), path, "", modprobe.LoadOptions{})
	if !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("insert: %v, want EINVAL", err)
	}
	if ins := lt.insertsOf(path); len(ins) != 1 || !ins[0].Compressed {
		t.Errorf("inserts %+v, want the one refused finit_module", ins)
	}
}

// TestInsertKernelRefusedFormats: a file the kernel's decompressor is
// known to refuse (an xz check other than none or CRC32, gzip header
// fields other than the name) never reaches finit_module with the
// compressed flag; gokmod decompresses it and calls init_module once.
func TestInsertKernelRefusedFormats(t *testing.T) {
	gz := func(h gzip.Header) func(t *testing.T, img []byte) []byte {
		return func(t *testing.T, img []byte) []byte {
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			w.Header = h
			if _, err := w.Write(img); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			return b.Bytes()
		}
	}
	xzc := func(c testmod.Compression) func(t *testing.T, img []byte) []byte {
		return func(t *testing.T, img []byte) []byte { return compressed(t, img, c) }
	}
	for _, tc := range []struct {
		name, kernel, module, rel string
		write                     func(t *testing.T, img []byte) []byte
		offered                   bool
	}{
		{"xz-crc32", "xz", "c", "kernel/c.ko.xz", xzc(testmod.Xz), true},
		{"xz-none", "xz", "c", "kernel/c.ko.xz", xzc(testmod.XzNoCheck), true},
		{"xz-crc64", "xz", "c", "kernel/c.ko.xz", xzc(testmod.XzCRC64), false},
		{"xz-sha256", "xz", "c", "kernel/c.ko.xz", xzc(testmod.XzSHA256), false},
		{"gzip-name", "gzip", "gz", "kernel/gz.ko.gz", gz(gzip.Header{Name: "gz.ko"}), true},
		{"gzip-extra", "gzip", "gz", "kernel/gz.ko.gz", gz(gzip.Header{Extra: []byte{'g', 'k', 0, 0}}), false},
		{"gzip-comment", "gzip", "gz", "kernel/gz.ko.gz", gz(gzip.Header{Comment: "module"}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt := newInsertTree(t, tc.kernel)
			path := lt.path(tc.rel)
			img, err := modprobe.ReadModuleFile(path, 0)
			if err != nil {
				t.Fatal(err)
			}
			lt.rewrite(t, tc.rel, tc.write(t, img))
			l := lt.open(t, modprobe.Options{})
			if err := l.Load(context.Background(), tc.module); err != nil {
				t.Fatal(err)
			}
			ins := lt.insertsOf(path)
			if len(ins) != 1 || ins[0].Err != nil || ins[0].Compressed != tc.offered || (ins[0].File != "") != tc.offered {
				t.Errorf("inserts %+v, want one %s", ins, map[bool]string{true: "compressed finit_module", false: "init_module"}[tc.offered])
			}
			if n := lt.kmsgCount(t, "decompression failed"); n != 0 {
				t.Errorf("the kernel's decompressor failed %d times", n)
			}
		})
	}
}

// TestInsertForcedCompressed: forced loads follow kmod 34. A compressed
// file the kernel decompresses goes to finit_module with the compressed
// and ignore flags, unstripped; one it does not (another format, or an
// xz check it cannot verify) is decompressed, stripped of vermagic and
// __versions, and given to init_module. The fake kernel checks vermagic:
// only a forced load of either kind passes.
func TestInsertForcedCompressed(t *testing.T) {
	const otherMagic = "6.9.9-other SMP mod_unload"
	force := modprobe.LoadOptions{ForceVermagic: true, ForceModversion: true}
	ignore := modprobe.InitIgnoreVermagic | modprobe.InitIgnoreModversions
	for _, tc := range []struct {
		name, kernel, module, rel string
		recompress                *testmod.Compression
		flags                     modprobe.InitFlags // of the one insert; -1 for init_module
	}{
		{"xz-kernel-xz", "xz", "c", "kernel/c.ko.xz", nil, ignore | modprobe.InitCompressedFile},
		{"xz-kernel-xz-crc64", "xz", "c", "kernel/c.ko.xz", ptr(testmod.XzCRC64), -1},
		{"xz-kernel-zstd", "xz", "zst", "kernel/zst.ko.zst", nil, -1},
		{"no-decompression-xz", "", "c", "kernel/c.ko.xz", nil, -1},
		{"xz-kernel-plain", "xz", "x", "kernel/x.ko", nil, ignore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt := newInsertTree(t, tc.kernel)
			lt.K.SetVermagic(otherMagic)
			if tc.recompress != nil {
				lt.recompress(t, tc.rel, *tc.recompress)
			}
			path := lt.path(tc.rel)
			l := lt.open(t, modprobe.Options{})
			err := l.Load(context.Background(), tc.module)
			if !errors.Is(err, syscall.ENOEXEC) {
				t.Fatalf("unforced load: %v, want ENOEXEC for the version magic", err)
			}
			if err := l.LoadWith(context.Background(), tc.module, nil, force); err != nil {
				t.Fatalf("forced load: %v", err)
			}
			ins := lt.insertsOf(path)
			forced := ins[len(ins)-1]
			if tc.flags < 0 && forced.File != "" || tc.flags >= 0 && (forced.File == "" || forced.Flags != tc.flags) {
				t.Errorf("forced insert %+v, want flags %v (-1: init_module)", forced, tc.flags)
			}
			if n := len(ins); n != 2 {
				t.Errorf("%d inserts, want the unforced one and the forced one: %+v", n, ins)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestInsertNoFinitModule: finit_module missing (Linux before 3.8, or a
// seccomp filter answering ENOSYS) falls back to init_module, plain or
// compressed; an ENOSYS from a kernel that has it is the module's, and is
// returned (covered with the others in TestInsertInitFailureRunsOnce).
func TestInsertNoFinitModule(t *testing.T) {
	for _, tc := range []struct{ kernel, module, rel string }{
		{"", "x", "kernel/x.ko"},
		{"xz", "c", "kernel/c.ko.xz"},
	} {
		t.Run(tc.module, func(t *testing.T) {
			lt := newInsertTree(t, tc.kernel)
			lt.K.SetNoFinitModule(true)
			l := lt.open(t, modprobe.Options{})
			if err := l.Load(context.Background(), tc.module); err != nil {
				t.Fatal(err)
			}
			ins := lt.insertsOf(lt.path(tc.rel))
			if len(ins) != 2 || !errors.Is(ins[0].Err, syscall.ENOSYS) || ins[0].Init || ins[1].File != "" || !ins[1].Init || ins[1].Err != nil {
				t.Errorf("inserts %+v, want finit_module's ENOSYS, then init_module", ins)
			}
		})
	}
}
