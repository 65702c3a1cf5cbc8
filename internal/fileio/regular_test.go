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
	err := openFIFO(t, func(p string) error {
		f, err := OpenRegularFile(p)
		if err == nil {
			f.Close()
		}
		return err
	})
	assert.ErrorIs(t, err, ErrNotRegular)
}

// openFIFO makes a FIFO without a writer and returns what open says of
// it; the test fails, rather than hangs, when open waits for a writer.
func openFIFO(t *testing.T, open func(path string) error) error {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(p, 0o644))
	done := make(chan error, 1)
	go func() { done <- open(p) }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		// Release the blocked open before failing.
		if w, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		<-done
		t.Fatal("the open waited for a writer on a FIFO")
		return nil
	}
}

// TestOpenRegularBlocking: the *os.File OpenRegular gives for a regular
// file holds a blocking descriptor (the O_NONBLOCK that kept the open from
// waiting on a FIFO is gone), so os.NewFile left it out of the network
// poller; its reads still work.
func TestOpenRegularBlocking(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.ko")
	require.NoError(t, os.WriteFile(p, []byte("\x7fELF module"), 0o644))
	f, err := OpenRegular(p)
	require.NoError(t, err)
	defer f.Close()
	raw, err := f.SyscallConn()
	require.NoError(t, err)
	var flags int
	var errFlags error
	require.NoError(t, raw.Control(func(fd uintptr) {
		flags, errFlags = unixFcntlGetfl(int(fd))
	}))
	require.NoError(t, errFlags)
	assert.Zero(t, flags&syscall.O_NONBLOCK, "O_NONBLOCK still set: flags %#x", flags)
	assert.Equal(t, syscall.O_RDONLY, flags&syscall.O_ACCMODE, "access mode changed: flags %#x", flags)
	got, err := io.ReadAll(f)
	require.NoError(t, err)
	assert.Equal(t, "\x7fELF module", string(got))
}

// unixFcntlGetfl is fcntl(fd, F_GETFL).
func unixFcntlGetfl(fd int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFL, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
