package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

// TestDifferentialShowSymbols compares --show-modversions and
// --show-exports with kmod's on a sample of the Debian tree's modules,
// compressed copies of a few (xz and zstd, which kmod 30 reads), and bad
// paths.
func TestDifferentialShowSymbols(t *testing.T) {
	forEachKmod(t, "modprobe", func(t *testing.T, k kmodRef) {
		root, release := testmod.DebianTree(t)
		moddir := filepath.Join(root, "lib/modules", release)
		var paths []string
		i := 0
		err := filepath.WalkDir(filepath.Join(moddir, "kernel"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".ko") {
				if i%40 == 0 || strings.HasSuffix(p, "/ip_vs.ko") || strings.HasSuffix(p, "/dummy.ko") {
					paths = append(paths, p)
				}
				i++
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		for _, name := range []string{"ip_vs.ko", "dummy.ko"} {
			var src string
			for _, p := range paths {
				if filepath.Base(p) == name {
					src = p
				}
			}
			img, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []testmod.Compression{testmod.Xz, testmod.Zstd} {
				data, err := testmod.Compress(img, c)
				if err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(dir, name+c.Suffix()[len(".ko"):])
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, p)
			}
		}
		notELF := filepath.Join(dir, "not-elf.ko")
		os.WriteFile(notELF, []byte("this is not an ELF module at all"), 0o644)
		paths = append(paths, notELF, filepath.Join(dir, "missing.ko"), dir)

		same, total := 0, 0
		for _, opt := range []string{"--show-modversions", "--show-exports"} {
			for _, p := range paths {
				total++
				if k.compare(t, "modprobe", []string{opt, p}, nil) {
					same++
				}
			}
		}
		t.Logf("--show-modversions/--show-exports: %d/%d invocations identical to %s (%d files)", same, total, k.compat, len(paths))
	})
}
