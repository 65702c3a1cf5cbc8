//go:build unix

package fileio

import (
	"io"
	"syscall"
)

// Regular is a regular file open for reading through its bare
// descriptor: unlike an *os.File it costs no poller registration (the
// fcntl and failing epoll_ctl os.NewFile spends on a descriptor opened
// non-blocking), no finalizer and no second fstat for its size, so a
// module file costs open, fstat, its reads and close. O_NONBLOCK, which
// let the open refuse a FIFO without waiting, stays set: it changes
// nothing for a regular file's reads and mappings. A Regular is for one
// goroutine at a time; Close it once.
type Regular struct {
	fd   int
	path string
	size int64
}

// OpenRegularFile opens the regular file at path as OpenRegular does,
// refusing anything else the same way (a directory with EISDIR, a FIFO
// without waiting for a writer).
func OpenRegularFile(path string) (*Regular, error) {
	fd, st, err := openStat(path, false)
	if err != nil {
		return nil, err
	}
	return &Regular{fd: fd, path: path, size: st.Size}, nil
}

// Size is the file's size when it was opened.
func (r *Regular) Size() int64 { return r.size }

// Name is the path the file was opened by.
func (r *Regular) Name() string { return r.path }

// ReadAt reads len(p) bytes from off, as io.ReaderAt: fewer only with an
// error, io.EOF at the end of the file.
func (r *Regular) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := syscall.Pread(r.fd, p[n:], off+int64(n))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n, pathErr("read", r.path, err)
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

// Map maps the file read-only, as Map does for a path; data is nil when
// the file is empty or larger than maxSize. A file system that cannot map
// has the file read instead.
func (r *Regular) Map(maxSize int64) (data []byte, unmap func() error, err error) {
	if r.size == 0 || r.size > maxSize {
		return nil, nil, nil
	}
	data, err = syscall.Mmap(r.fd, 0, int(r.size), syscall.PROT_READ, syscall.MAP_PRIVATE)
	if err != nil {
		data = make([]byte, r.size)
		n, rerr := r.ReadAt(data, 0)
		if rerr != nil && (rerr != io.EOF || n == 0) {
			return nil, nil, rerr
		}
		return data[:n], func() error { return nil }, nil
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}

// Close closes the descriptor.
func (r *Regular) Close() error {
	if err := syscall.Close(r.fd); err != nil {
		return pathErr("close", r.path, err)
	}
	return nil
}
