//go:build unix

package fileio

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestOpenDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil || len(names) != 1 || names[0] != "f" {
		t.Errorf("entries %q, %v", names, err)
	}
	if _, err := OpenDir(filepath.Join(dir, "f")); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("regular file: %v, want ENOTDIR", err)
	}
	if _, err := OpenDir(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	// A FIFO without a writer: ENOTDIR at once, not a wait for a writer.
	err = openFIFO(t, func(p string) error {
		f, err := OpenDir(p)
		if err == nil {
			f.Close()
		}
		return err
	})
	if !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("FIFO: %v, want ENOTDIR", err)
	}
}
