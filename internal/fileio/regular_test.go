//go:build unix

package fileio

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenRegularFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.ko")
	require.NoError(t, os.WriteFile(p, []byte("0123456789"), 0o644))

	f, err := OpenRegularFile(p)
	require.NoError(t, err)
	assert.Equal(t, int64(10), f.Size())
	assert.Equal(t, p, f.Name())

	buf := make([]byte, 4)
	n, err := f.ReadAt(buf, 3)
	require.NoError(t, err)
	assert.Equal(t, "3456", string(buf[:n]))
	n, err = f.ReadAt(buf, 8)
	assert.ErrorIs(t, err, io.EOF, "a read past the end")
	assert.Equal(t, "89", string(buf[:n]))

	data, unmap, err := f.Map(10)
	require.NoError(t, err)
	assert.Equal(t, "0123456789", string(data))
	require.NoError(t, unmap())
	data, unmap, err = f.Map(9)
	require.NoError(t, err)
	assert.Nil(t, data, "a file over the limit is not mapped")
	assert.Nil(t, unmap)
	require.NoError(t, f.Close())

	_, err = OpenRegularFile(dir)
	assert.ErrorIs(t, err, syscall.EISDIR)
	_, err = OpenRegularFile(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = OpenRegularFile("/dev/null")
	assert.ErrorIs(t, err, ErrNotRegular, "a device")
}

// A FIFO is refused at once, not waited on for a writer.
func TestOpenRegularFileFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo.ko")
	require.NoError(t, syscall.Mkfifo(p, 0o644))
	done := make(chan error, 1)
	go func() {
		f, err := OpenRegularFile(p)
		if err == nil {
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, ErrNotRegular)
	case <-time.After(10 * time.Second):
		// Release the blocked open before failing.
		if w, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		<-done
		t.Fatal("OpenRegularFile waited for a writer on a FIFO")
	}
}
