package adversarial_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/modprobetest"
)

// advPlain is the usual tree: a, b needing a, and evil, which setups move
// outside the module directory.
func advPlain(t *testing.T) *advEnv {
	return advTree(t,
		modprobetest.Module{Name: "a"},
		modprobetest.Module{Name: "b", Depends: []string{"a"}},
		modprobetest.Module{Name: "evil"},
	)
}

// withDep returns a setup writing the plain tree with modules.dep set to
// dep, and evil.ko moved out of the module tree to the canary directory
// (root/outside, that is MODULEDIR/../../../outside).
func withDep(dep func(e *advEnv) string) func(t *testing.T, n int) *advEnv {
	return func(t *testing.T, n int) *advEnv {
		e := advPlain(t)
		if err := os.Rename(filepath.Join(e.dir, "kernel/evil.ko"), filepath.Join(e.outside, "evil.ko")); err != nil {
			t.Fatal(err)
		}
		e.writeFile(t, "modules.dep", dep(e))
		return e
	}
}

// withDepN is withDep for a modules.dep made from the input size.
func withDepN(dep func(n int) string) func(t *testing.T, n int) *advEnv {
	return func(t *testing.T, n int) *advEnv {
		return withDep(func(*advEnv) string { return dep(n) })(t, n)
	}
}

// withLoop adds the symlink loop kernel/loop.ko -> loop.ko to a setup.
func withLoop(setup func(t *testing.T, n int) *advEnv) func(t *testing.T, n int) *advEnv {
	return func(t *testing.T, n int) *advEnv {
		e := setup(t, n)
		if err := os.Symlink("loop.ko", filepath.Join(e.dir, "kernel/loop.ko")); err != nil {
			t.Fatal(err)
		}
		return e
	}
}

func advModdepCases() []advCase {
	const cat = "moddep"
	loadA := func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, "a") }
	return []advCase{
		{
			// The dependency names a file that does not exist: libkmod
			// logs it and drops the line's dependencies; a still loads.
			name: "dep climbing to a missing file", category: cat,
			setup: withDep(func(e *advEnv) string {
				return "kernel/a.ko: ../../../../../../../../../../etc/gokmod-evil.ko\n"
			}),
			act:  loadA,
			want: advNoError(), inserted: []string{"a"},
			post: advLogHas("gokmod-evil.ko error=", "gokmod-evil.ko: no such file or directory"),
		},
		{
			// The administrator's modules.dep names an existing file
			// outside the module directory: libkmod joins the path without
			// cleaning it and loads the file, and so does gokmod.
			name: "dep climbing to an existing file", category: cat,
			setup: withDep(func(e *advEnv) string { return "kernel/a.ko: ../../../outside/evil.ko\n" }),
			act:   loadA,
			want:  advNoError(), inserted: []string{"evil", "a"},
			post: func(t *testing.T, e *advEnv) {
				if got, want := e.k.Inserts()[0].File, e.dir+"/../../../outside/evil.ko"; got != want {
					t.Errorf("evil inserted from %s, want kmod's unclean join %s", got, want)
				}
			},
		},
		{
			name: "absolute dep path", category: cat,
			setup: withDep(func(e *advEnv) string { return "kernel/a.ko: " + e.outside + "/evil.ko\n" }),
			act:   loadA,
			want:  advNoError(), inserted: []string{"evil", "a"},
			post: func(t *testing.T, e *advEnv) {
				if got := e.k.Inserts()[0].File; got != e.outside+"/evil.ko" {
					t.Errorf("evil inserted from %s, want the absolute path as written", got)
				}
			},
		},
		{
			name: "own path climbing out", category: cat,
			setup: withDep(func(e *advEnv) string { return "../../../outside/evil.ko:\nkernel/a.ko:\n" }),
			act:   func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, "evil") },
			want:  advNoError(), inserted: []string{"evil"},
		},
		{
			name: "dep through a symlink loop", category: cat,
			setup: withLoop(withDep(func(e *advEnv) string {
				return "kernel/a.ko: kernel/loop.ko\nkernel/loop.ko:\n"
			})),
			act:  loadA,
			want: advNoError(), inserted: []string{"a"},
			post: advLogHas("loop.ko error=", "loop.ko: too many levels of symbolic links"),
		},
		{
			name: "module file is a symlink loop", category: cat,
			setup: withLoop(withDep(func(e *advEnv) string { return "kernel/loop.ko:\n" })),
			act:   func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, "loop") },
			want:  advIs(syscall.ELOOP),
		},
		{
			// open(2) of a FIFO blocks until a writer comes: the Loader
			// must refuse what is not a regular file instead of waiting.
			name: "module file is a FIFO", category: cat, timeout: time.Second,
			setup: func(t *testing.T, n int) *advEnv {
				e := advPlain(t)
				if err := os.Remove(filepath.Join(e.dir, "kernel/a.ko")); err != nil {
					t.Fatal(err)
				}
				e.fifo(t, filepath.Join(e.dir, "kernel/a.ko"))
				return e
			},
			act:  loadA,
			want: advAny(advIs(syscall.ENOEXEC, syscall.EINVAL, fs.ErrInvalid), advText("regular")),
		},
		{
			// The exported readers of module files (modinfo and depmod
			// style tools use them) must not wait on a FIFO either.
			name: "ReadModuleFile and MapModuleFile of a FIFO", category: cat, timeout: time.Second,
			setup: func(t *testing.T, n int) *advEnv {
				e := advPlain(t)
				e.fifo(t, filepath.Join(e.dir, "kernel/fifo.ko"))
				return e
			},
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				p := filepath.Join(e.dir, "kernel/fifo.ko")
				if _, err := modprobe.ReadModuleFile(p, 0); err == nil {
					return errors.New("ReadModuleFile read a FIFO")
				}
				_, release, err := modprobe.MapModuleFile(p, 0)
				release()
				return err
			},
			want: advAny(advIs(syscall.ENOEXEC, syscall.EINVAL, fs.ErrInvalid), advText("regular")),
		},
		{
			// A NUL byte cannot be stored in an index: the text modules.dep
			// line is reported and skipped, so a does not exist.
			name: "NUL byte in a dep path", category: cat,
			setup: withDep(func(e *advEnv) string { return "kernel/a.ko: kernel/b\x00evil.ko\nkernel/b.ko:\n" }),
			act:   loadA,
			want:  advIs(modprobe.ErrNotFound),
			post:  advLogHas("modules.dep:1:"),
		},
		{
			// A 10 MB path cannot be joined in PATH_MAX: libkmod's message,
			// and a loads without it.
			name: "10 MB dep path", category: cat, size: advBig, text: true,
			setup: withDepN(func(n int) string { return "kernel/a.ko: " + strings.Repeat("x", n) + "\n" }),
			act:   loadA,
			want:  advNoError(), inserted: []string{"a"},
			post: advLogHas("could not join path"),
		},
		{
			// The module's own path does not fit in PATH_MAX: it has no
			// file, and the load fails as for a missing module.
			name: "10 MB own path", category: cat, size: advBig, text: true,
			setup: withDepN(func(n int) string { return strings.Repeat("y", n) + "/big.ko:\n" }),
			act:   func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, "big") },
			want:  advIs(modprobe.ErrNotFound),
		},
		{
			// One modules.dep line of 10 MB naming the same dependency
			// 870,000 times: depmod never writes that. libkmod's probe
			// list holds one entry per copy (and modprobe -D prints
			// each), so the plan does too, but it stays linear in the
			// line: the file is stat'ed once, not once per copy.
			name: "10 MB line of repeated deps", category: cat, size: advBig, text: true, pilot: true,
			setup: func(t *testing.T, n int) *advEnv {
				e := withDepN(func(n int) string {
					return "kernel/a.ko:\nkernel/c.ko: " + strings.Repeat("kernel/a.ko ", n/12) + "\n"
				})(t, n)
				e.vals["n"] = fmt.Sprint(n / 12)
				return e
			},
			act:  func(ctx context.Context, t *testing.T, e *advEnv) error { return e.plan(ctx, t, "c") },
			want: advNoError(),
			post: advChainLength,
		},
	}
}
