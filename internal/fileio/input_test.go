//go:build unix

package fileio

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadInput(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	content := bytes.Repeat([]byte("x"), 1000)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadInput(p, 1000); err != nil || !bytes.Equal(got, content) {
		t.Errorf("at the limit: %d bytes, %v", len(got), err)
	}
	if _, err := ReadInput(p, 999); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), p) {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := ReadInput(filepath.Join(dir, "missing"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if _, err := ReadInput(dir, 10); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("directory: %v", err)
	}
	// A file whose size stat does not tell is read to its end.
	if runtime.GOOS == "linux" {
		got, err := ReadInput("/proc/self/status", 1<<20)
		if err != nil || !bytes.HasPrefix(got, []byte("Name:")) || !bytes.Contains(got, []byte("\nPid:")) {
			t.Errorf("/proc/self/status: %q %v", got, err)
		}
	}
	if got, err := ReadInput(p, 0); !errors.Is(err, ErrTooLarge) || got != nil {
		t.Errorf("limit 0: %q %v", got, err)
	}
	if got, err := ReadInput("/dev/null", 10); err != nil || len(got) != 0 {
		t.Errorf("/dev/null: %q %v", got, err)
	}
	// An endless device stops one byte past the bound.
	if _, err := ReadInput("/dev/zero", 1<<20); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "/dev/zero") {
		t.Errorf("/dev/zero: %v", err)
	}
	// A FIFO without a writer is refused at once.
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadInput(fifo, 10); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), fifo) {
			t.Errorf("FIFO: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadInput waits on a FIFO")
	}
}

func TestReadAllBounded(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int64
		ok    bool
	}{{"", 0, true}, {"a", 0, false}, {"abc", 3, true}, {"abcd", 3, false}, {"abc", -1, false}} {
		got, err := ReadAllBounded(strings.NewReader(tc.in), tc.limit)
		if tc.ok && (err != nil || string(got) != tc.in) {
			t.Errorf("%q limit %d: %q %v", tc.in, tc.limit, got, err)
		}
		if !tc.ok && !errors.Is(err, ErrTooLarge) {
			t.Errorf("%q limit %d: %v, want ErrTooLarge", tc.in, tc.limit, err)
		}
	}
}
