package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/modprobe/internal/fileio"
)

// TestReadAllRegularAndPipe: a regular file is read whole, one over the
// limit refused; a pipe nobody closes is left as soon as the context is
// done, as a file is not read at all once it is.
func TestReadAllRegularAndPipe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte(`{"bundle":"/b"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if data, err := ReadAll(t.Context(), f, 64); err != nil || string(data) != `{"bundle":"/b"}` {
		t.Fatalf("ReadAll(regular file) = %q, %v", data, err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadAll(t.Context(), f, 4); !errors.Is(err, fileio.ErrTooLarge) {
		t.Fatalf("ReadAll over the limit: %v", err)
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := ReadAll(cancelled, f, 64); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadAll with a done context: %v", err)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, stop := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer stop()
	done := make(chan error, 1)
	go func() {
		_, err := ReadAll(ctx, r, 64)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("ReadAll(pipe) = %v, want the context's end", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadAll of a pipe nobody closes still waits after its context ended")
	}
	// The read left behind ends with the pipe.
	w.Close()
	r.Close()
}

// TestReadInput: a regular file is read, a FIFO refused without waiting
// on it, a missing file is fs.ErrNotExist.
func TestReadInput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := ReadInput(t.Context(), path, 16); err != nil || string(data) != "{}" {
		t.Fatalf("ReadInput(regular file) = %q, %v", data, err)
	}
	if _, err := ReadInput(t.Context(), path, 1); !errors.Is(err, fileio.ErrTooLarge) {
		t.Fatalf("ReadInput over the limit: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadInput(t.Context(), fifo, 16); err == nil {
		t.Fatal("ReadInput read a FIFO")
	}
	if _, err := ReadInput(t.Context(), filepath.Join(dir, "none"), 16); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadInput(missing): %v", err)
	}
}
