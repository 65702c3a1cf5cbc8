package kmodimage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/registrytest"
	"github.com/gokmod/modprobe/internal/testmod"
)

func TestCheckLayout(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "opt/lib/modules", rel)
	check := func(want string) {
		t.Helper()
		err := CheckLayout(root, "", rel)
		if want == "" {
			if err != nil {
				t.Fatalf("CheckLayout: %v", err)
			}
			return
		}
		if !errors.Is(err, ErrLayout) || !strings.Contains(err.Error(), want) {
			t.Fatalf("CheckLayout: %v; want ErrLayout with %q", err, want)
		}
	}
	check(dir + " does not exist")
	write(t, filepath.Join(root, "opt/lib/modules/6.5.0/x"), "")
	check("(kernel directories there: 6.5.0)")
	write(t, filepath.Join(dir, "modules.dep"), "")
	check("holds no module")
	// A module reached through a link (KMM's host link) does not count.
	hostDir := filepath.Join(t.TempDir(), "host")
	write(t, filepath.Join(hostDir, "kernel/in-tree.ko"), "")
	if err := os.Symlink(hostDir, filepath.Join(dir, "host")); err != nil {
		t.Fatal(err)
	}
	check("holds no module")
	write(t, filepath.Join(dir, "extra/oot.ko.xz"), "")
	check("")
	if err := os.Remove(filepath.Join(dir, "modules.dep")); err != nil {
		t.Fatal(err)
	}
	check("has no modules.dep or modules.dep.bin: run depmod -b " + root + "/opt " + rel)
	write(t, filepath.Join(dir, "modules.dep.bin"), "")
	check("")
}

// An image built without depmod gets its indexes from gokmod's depmod,
// inside the extraction, before the files are moved into place.
func TestExtractIndex(t *testing.T) {
	tree := t.TempDir()
	_, err := (&testmod.Tree{Release: rel, OmitOrder: true, Modules: []testmod.TreeModule{
		{RelPath: "extra/base.ko", Module: &testmod.Module{Exports: []string{"base_fn"}}},
		{RelPath: "extra/user.ko.xz", Module: &testmod.Module{Uses: []string{"base_fn"}, ModInfo: []string{"alias=gokmod-test"}}},
	}}).Write(filepath.Join(tree, "opt"))
	if err != nil {
		t.Fatal(err)
	}
	img := registrytest.ImageFromDir(t, tree)
	for _, index := range []bool{false, true} {
		dst := t.TempDir()
		if err := Extract(context.Background(), img, dst, ExtractOptions{KernelVersion: rel, Index: index}); err != nil {
			t.Fatal(err)
		}
		dep, err := os.ReadFile(filepath.Join(dst, "opt/lib/modules", rel, "modules.dep"))
		switch {
		case !index && !errors.Is(err, os.ErrNotExist):
			t.Fatalf("without Index: modules.dep %q, %v", dep, err)
		case index && (err != nil || !strings.Contains(string(dep), "extra/user.ko.xz: extra/base.ko\n")):
			t.Fatalf("with Index: modules.dep %q, %v", dep, err)
		}
		if entries, _ := os.ReadDir(dst); len(entries) != 1 {
			t.Fatalf("dst holds %v", entries)
		}
	}
}
