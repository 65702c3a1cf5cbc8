package registrytest

import (
	"archive/tar"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DirEntries returns the entries of a layer holding the tree dir: its
// directories, regular files and symbolic links, at their paths below
// dir, in lexical order.
func DirEntries(tb testing.TB, dir string) []Entry {
	tb.Helper()
	var entries []Entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			entries = append(entries, Entry{Name: rel + "/", Type: tar.TypeDir})
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			entries = append(entries, Entry{Name: rel, Type: tar.TypeSymlink, Linkname: target})
		default:
			// Not an input: the test's own directory of image files.
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entries = append(entries, Entry{Name: rel, Type: tar.TypeReg, Data: data})
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	return entries
}

// ImageFromDir returns a one-layer image holding the tree dir (see
// DirEntries).
func ImageFromDir(tb testing.TB, dir string) v1.Image {
	tb.Helper()
	return Image(tb, DirEntries(tb, dir))
}
