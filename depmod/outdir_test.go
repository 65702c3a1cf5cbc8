package depmod

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe/internal/config"
	"github.com/gokmod/modprobe/internal/testmod"
)

// TestOutDirLayout checks kmod 34's -o: the files go to
// OutDir/lib/modules/REL, created as needed, and the module directory is
// left alone; with ModuleDirectory they go under that name in both.
func TestOutDirLayout(t *testing.T) {
	tree := &testmod.Tree{Modules: []testmod.TreeModule{
		tmod("kernel/a.ko", []string{"a_fn"}, nil),
		tmod("kernel/b.ko.gz", nil, []string{"a_fn"}),
	}}
	root := writeTree(t, tree)
	for _, c := range []struct {
		name, moddir, want string
	}{
		{"default", "", "lib/modules/" + rel},
		{"absolute", "/lib/modules", "lib/modules/" + rel},
		{"relative", "lib/modules", "lib/modules/" + rel},
		{"slashes", "//lib/modules", "lib/modules/" + rel},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "new", "root")
			if _, _, err := runTree(t, root, Options{OutDir: out, ModuleDirectory: c.moddir}); err != nil {
				t.Fatal(err)
			}
			dep, err := os.ReadFile(filepath.Join(out, c.want, "modules.dep"))
			if err != nil {
				t.Fatal(err)
			}
			if want := "kernel/a.ko:\nkernel/b.ko.gz: kernel/a.ko\n"; string(dep) != want {
				t.Errorf("modules.dep %q, want %q", dep, want)
			}
			names, _ := os.ReadDir(filepath.Join(out, c.want))
			if len(names) != 11 {
				t.Errorf("%d files written, want kmod 34's 11 (modules.weakdep included)", len(names))
			}
			if _, err := os.Stat(filepath.Join(root, "lib/modules", rel, "modules.dep")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the module directory was written: %v", err)
			}
		})
	}

	// Another module directory, for input and output alike.
	moved := t.TempDir()
	if err := os.MkdirAll(filepath.Join(moved, "usr/lib/mods"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(root, "lib/modules", rel), filepath.Join(moved, "usr/lib/mods", rel)); err != nil {
		t.Fatal(err)
	}
	opts := Options{BaseDir: moved, Release: rel, ConfigPaths: []string{}, ModuleDirectory: "usr/lib/mods"}
	if err := Run(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(moved, "usr/lib/mods", rel, "modules.dep.bin")); err != nil {
		t.Errorf("-m usr/lib/mods: %v", err)
	}
}

// TestOutDirErrors checks that an output directory that cannot be made is
// a fatal error naming it, with nothing written, and that kmod 34 refuses
// paths longer than PATH_MAX where kmod 30 does not check.
func TestOutDirErrors(t *testing.T) {
	root := writeTree(t, &testmod.Tree{Modules: []testmod.TreeModule{tmod("kernel/a.ko", nil, nil)}})
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	opts := Options{BaseDir: root, Release: rel, ConfigPaths: []string{}, OutDir: file,
		Log: func(l Level, s string) {
			if l <= LevelCrit {
				msgs = append(msgs, s)
			}
		}}
	err := Run(t.Context(), opts)
	if !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("OutDir under a file: %v, want ENOTDIR", err)
	}
	want := "could not create directory " + file + "/lib/modules/" + rel + ": Not a directory"
	if !slices.Equal(msgs, []string{want}) {
		t.Errorf("messages %q, want %q", msgs, want)
	}

	long := "/" + strings.Repeat("x", 4100)
	for _, o := range []Options{{BaseDir: long}, {OutDir: long}, {ModuleDirectory: long}} {
		o.Release, o.ConfigPaths = rel, []string{}
		if o.BaseDir == "" {
			o.BaseDir = root
		}
		var got []string
		o.Log = func(_ Level, s string) { got = append(got, s) }
		err := Run(t.Context(), o)
		if !errors.Is(err, ErrPathTooLong) || len(got) != 1 || !strings.HasPrefix(got[0], "Bad directory /") || !strings.HasSuffix(got[0], "/"+rel+": path too long") {
			t.Errorf("kmod 34, %d-byte path: %v, %q", len(long), err, got)
		}
		if err := CheckDirs(o); !errors.Is(err, ErrPathTooLong) {
			t.Errorf("CheckDirs: %v", err)
		}
		o.Compat = config.Kmod30
		if err := Run(t.Context(), o); errors.Is(err, ErrPathTooLong) {
			t.Errorf("kmod 30 checks no path length: %v", err)
		}
		if err := CheckDirs(o); err != nil {
			t.Errorf("CheckDirs, kmod 30: %v", err)
		}
	}
}

// TestGzipModules checks that .ko.gz files are modules in both releases'
// modes: gokmod is a kmod built with zlib.
func TestGzipModules(t *testing.T) {
	root := writeTree(t, &testmod.Tree{Modules: []testmod.TreeModule{
		tmod("kernel/gz.ko.gz", []string{"gz_fn"}, nil, "alias=gz-alias"),
		tmod("kernel/user.ko.xz", nil, []string{"gz_fn"}),
	}})
	for _, c := range []config.Dialect{config.Latest, config.Kmod30} {
		files, _, err := runTree(t, root, Options{Compat: c})
		if err != nil {
			t.Fatal(err)
		}
		if want := "kernel/gz.ko.gz:\nkernel/user.ko.xz: kernel/gz.ko.gz\n"; files["modules.dep"] != want {
			t.Errorf("compat %d: modules.dep %q, want %q", c, files["modules.dep"], want)
		}
		if !strings.Contains(files["modules.alias"], "alias gz-alias gz\n") {
			t.Errorf("compat %d: modules.alias %q", c, files["modules.alias"])
		}
	}
}
