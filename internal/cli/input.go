package cli

import (
	"context"
	"io"
	"os"

	"github.com/gokmod/modprobe/internal/fileio"
)

// ReadAll reads r to its end, no more than limit bytes
// (fileio.ReadAllBounded). A read that may wait (a pipe, a terminal)
// returns as soon as ctx is done (Interruptible); a regular file, which
// cannot keep a read waiting, is read at once, without the goroutine
// Interruptible starts (and the thread that may come with it).
func ReadAll(ctx context.Context, r io.Reader, limit int64) ([]byte, error) {
	read := func() ([]byte, error) { return fileio.ReadAllBounded(r, limit) }
	if f, ok := r.(*os.File); ok && ctx.Err() == nil {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			return read()
		}
	}
	return Interruptible(ctx, read)
}

// ReadInput is fileio.ReadInput (a FIFO refused, no more than limit
// bytes) that returns as soon as ctx is done, read at once from a regular
// file as ReadAll reads one. A path that stops being a regular file
// between the look and the read is read without the context: the signal
// then ends the process after StopGrace.
func ReadInput(ctx context.Context, path string, limit int64) ([]byte, error) {
	read := func() ([]byte, error) { return fileio.ReadInput(path, limit) }
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && ctx.Err() == nil {
		return read()
	}
	return Interruptible(ctx, read)
}
