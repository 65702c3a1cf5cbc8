package adversarial_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gokmod/modprobe/depmod"
	"github.com/gokmod/modprobe/modprobetest"
)

func advDepmodCases() []advCase {
	const cat = "depmod"
	run := func(ctx context.Context, t *testing.T, e *advEnv) error {
		return depmod.Run(ctx, depmod.Options{BaseDir: e.root, Release: advRelease, ConfigPaths: []string{},
			Log: func(_ depmod.Level, msg string) { e.log.add(msg) }})
	}
	writes := []string{"lib/modules/" + advRelease + "/modules."}
	tree := func(t *testing.T) *advEnv {
		e := advTree(t, modprobetest.Module{Name: "a"}, modprobetest.Module{Name: "b"})
		e.k = nil
		return e
	}
	indexed := func(names ...string) func(t *testing.T, e *advEnv) {
		return func(t *testing.T, e *advEnv) {
			dep, err := os.ReadFile(filepath.Join(e.dir, "modules.dep"))
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				if !strings.Contains(string(dep), "/"+n+".ko:") {
					t.Errorf("modules.dep lacks %s:\n%s", n, advShort(string(dep)))
				}
			}
		}
	}
	return []advCase{
		{
			// A link to the parent directory: the walk follows it until
			// the kernel says ELOOP (40 links), as kmod's follows it until
			// PATH_MAX, and ends.
			name: "symlink to the parent directory", category: cat,
			setup: func(t *testing.T, n int) *advEnv {
				e := tree(t)
				if err := os.Symlink("..", filepath.Join(e.dir, "kernel/up")); err != nil {
					t.Fatal(err)
				}
				return e
			},
			act: run, want: advNoError(), writes: writes, post: indexed("a", "b"),
		},
		{
			name: "self symlink", category: cat,
			setup: func(t *testing.T, n int) *advEnv {
				e := tree(t)
				if err := os.Symlink("self", filepath.Join(e.dir, "kernel/self")); err != nil {
					t.Fatal(err)
				}
				return e
			},
			act: run, want: advNoError(), writes: writes,
			post: func(t *testing.T, e *advEnv) {
				indexed("a", "b")(t, e)
				advLogHas("self): Too many levels of symbolic links")(t, e)
			},
		},
		{
			// Two links to "." make the walk binary: 2^40 directories
			// before ELOOP, unless directories already seen are skipped.
			name: "two symlinks to the directory itself", category: cat, timeout: 2 * time.Second,
			setup: func(t *testing.T, n int) *advEnv {
				e := tree(t)
				for _, l := range []string{"l1", "l2"} {
					if err := os.Symlink(".", filepath.Join(e.dir, "kernel", l)); err != nil {
						t.Fatal(err)
					}
				}
				return e
			},
			act: run, want: advNoError(), writes: writes, post: indexed("a", "b"),
		},
		{
			name: "FIFOs named like modules", category: cat, timeout: time.Second,
			setup: func(t *testing.T, n int) *advEnv {
				e := tree(t)
				e.fifo(t, filepath.Join(e.dir, "kernel/fifo.ko"))
				e.fifo(t, filepath.Join(e.dir, "kernel/target"))
				if err := os.Symlink("target", filepath.Join(e.dir, "kernel/link.ko")); err != nil {
					t.Fatal(err)
				}
				return e
			},
			act: run, want: advNoError(), writes: writes,
			post: func(t *testing.T, e *advEnv) {
				indexed("a", "b")(t, e)
				advLogHas("unsupported file type "+e.dir+"/kernel/fifo.ko")(t, e)
			},
		},
		{
			// depmod reads modules.order, modules.builtin and
			// modules.builtin.modinfo whole: a FIFO must be refused, not
			// waited on (and a device like /dev/zero must not be read
			// without end).
			name: "modules.order and modules.builtin* are FIFOs", category: cat, timeout: time.Second,
			setup: func(t *testing.T, n int) *advEnv {
				e := tree(t)
				for _, f := range []string{"modules.order", "modules.builtin", "modules.builtin.modinfo"} {
					if err := os.Remove(filepath.Join(e.dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
						t.Fatal(err)
					}
					e.fifo(t, filepath.Join(e.dir, f))
				}
				return e
			},
			act: run, want: advNoError(), writes: writes, post: indexed("a", "b"),
		},
		{
			name: "10 MB modules.order line", category: cat, size: advBig, text: true,
			setup: func(t *testing.T, n int) *advEnv {
				e := tree(t)
				e.writeFile(t, "modules.order", "kernel/b.ko\n"+strings.Repeat("k", n)+"\nkernel/a.ko\n")
				return e
			},
			act: run, want: advNoError(), writes: writes, post: indexed("a", "b"),
		},
	}
}
