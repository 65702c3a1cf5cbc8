//go:build !unix

package fileio

import "os"

// Regular is a regular file open for reading; on this system, an
// *os.File.
type Regular struct {
	f    *os.File
	size int64
}

// OpenRegularFile opens the regular file at path as OpenRegular does.
func OpenRegularFile(path string) (*Regular, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Regular{f: f, size: st.Size()}, nil
}

// Size is the file's size when it was opened.
func (r *Regular) Size() int64 { return r.size }

// Name is the path the file was opened by.
func (r *Regular) Name() string { return r.f.Name() }

// ReadAt reads len(p) bytes from off, as io.ReaderAt.
func (r *Regular) ReadAt(p []byte, off int64) (int, error) { return r.f.ReadAt(p, off) }

// Map reads the file into memory (no mapping here); data is nil when the
// file is empty or larger than maxSize.
func (r *Regular) Map(maxSize int64) (data []byte, unmap func() error, err error) {
	if r.size == 0 || r.size > maxSize {
		return nil, nil, nil
	}
	data = make([]byte, r.size)
	n, err := r.f.ReadAt(data, 0)
	if n == 0 && err != nil {
		return nil, nil, err
	}
	return data[:n], func() error { return nil }, nil
}

// Close closes the file.
func (r *Regular) Close() error { return r.f.Close() }
