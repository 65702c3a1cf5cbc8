package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

// gzView gives each .ko.gz file below the directories dirs a .ko.xz
// sibling holding the same module, so that a kmod built without zlib
// (Debian's 30 and 34 both are), which skips .ko.gz files, reads the
// modules gokmod reads as a kmod built with zlib does. It returns
// restore, which removes the siblings, and fix, which maps their names
// in kmod's output back to .ko.gz. With the view the outputs must agree
// byte for byte: that is the one difference gzip support makes, and the
// only one the tests accept.
func gzView(t *testing.T, dirs ...string) (fix func(string) string, restore func()) {
	t.Helper()
	var made, pairs []string
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || !strings.HasSuffix(p, ".ko.gz") {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				return err
			}
			img, err := io.ReadAll(zr)
			if err != nil {
				return err
			}
			xz, err := testmod.Compress(img, testmod.Xz)
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			sibling := strings.TrimSuffix(p, ".gz") + ".xz"
			if _, err := os.Lstat(sibling); err == nil {
				t.Fatalf("gzView: both %s and %s exist", p, sibling)
			}
			if err := os.WriteFile(sibling, xz, info.Mode().Perm()); err != nil {
				return err
			}
			made = append(made, sibling)
			pairs = append(pairs, filepath.Base(sibling), filepath.Base(p))
			return os.Chtimes(sibling, info.ModTime(), info.ModTime())
		})
		if err != nil {
			t.Fatalf("gzView: %v", err)
		}
	}
	r := strings.NewReplacer(pairs...)
	restore = func() {
		t.Helper()
		for _, p := range made {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	return r.Replace, restore
}
