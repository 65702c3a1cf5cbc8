package kmodimage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
