package modprobe_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/testmod"
)

func TestReadModuleFile(t *testing.T) {
	img, err := (&testmod.Module{Name: "m"}).ELF()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range []testmod.Compression{testmod.None, testmod.Gzip, testmod.Xz, testmod.XzCRC64, testmod.Zstd} {
		data, err := testmod.Compress(img, c)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "m"+c.String())
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := modprobe.ReadModuleFile(path, 0)
		if err != nil || !bytes.Equal(got, img) {
			t.Errorf("%v: %v", c, err)
		}
		if _, err := modprobe.ReadModuleFile(path, int64(len(img)-1)); !errors.Is(err, modprobe.ErrTooLarge) {
			t.Errorf("%v below the limit: %v", c, err)
		}
		mapped, release, err := modprobe.MapModuleFile(path, 0)
		if err != nil || !bytes.Equal(mapped, img) {
			t.Errorf("%v mapped: %v", c, err)
		}
		release()
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("\x7fEL"), 0o644)
	if _, err := modprobe.ReadModuleFile(short, 0); !errors.Is(err, syscall.ENOEXEC) {
		t.Errorf("short file: %v", err)
	}
	if _, err := modprobe.ReadModuleFile(filepath.Join(dir, "none"), 0); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
