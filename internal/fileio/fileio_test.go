package fileio

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	content := bytes.Repeat([]byte("0123456789"), 1000)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{-1, 0, 1, 511, 512, 513, 10000, 20000} {
		got, err := ReadFile(p, limit)
		want := content
		if limit >= 0 && limit < len(content) {
			want = content[:limit]
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("limit %d: %d bytes, %v", limit, len(got), err)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing"), -1); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	// A file whose size stat does not tell (procfs).
	if b, err := ReadFile("/proc/self/cmdline", -1); err != nil || len(b) == 0 {
		t.Errorf("/proc/self/cmdline: %q %v", b, err)
	}
	if _, err := ReadFile(dir, -1); err == nil {
		t.Error("reading a directory succeeded")
	}
}

func TestMap(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, size, unmap, err := Map(p, 100)
	if err != nil || string(data) != "hello" || size != 5 {
		t.Fatalf("Map = %q %d %v", data, size, err)
	}
	if err := unmap(); err != nil {
		t.Error(err)
	}
	if data, size, _, err := Map(p, 4); data != nil || size != 5 || err != nil {
		t.Errorf("too large: %q %d %v", data, size, err)
	}
	if _, _, _, err := Map(dir, 100); !errors.Is(err, ErrNotRegular) {
		t.Errorf("directory: %v", err)
	}
	if Exists(p) != nil || !errors.Is(Exists(p+"x"), fs.ErrNotExist) || !IsDir(dir) || IsDir(p) {
		t.Error("Exists/IsDir")
	}
}
