//go:build !unix

package fileio

import (
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ReadFile reads at most limit bytes of the file at path (limit < 0 means
// no limit).
func ReadFile(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if limit >= 0 {
		r = io.LimitReader(f, int64(limit))
	}
	return io.ReadAll(r)
}

// ReadRegular reads the regular file at path, which must not be larger
// than limit bytes.
func ReadRegular(path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &os.PathError{Op: "read", Path: path, Err: ErrNotRegular}
	}
	if st.Size() > limit {
		return nil, &os.PathError{Op: "read", Path: path, Err: ErrTooLarge}
	}
	return os.ReadFile(path)
}

// OpenRegular opens the regular file at path for reading, refusing
// anything else.
func OpenRegular(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && st.IsDir() {
		err = &os.PathError{Op: "read", Path: path, Err: syscall.EISDIR}
	} else if err == nil && !st.Mode().IsRegular() {
		err = &os.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Map reads the regular file at path into memory (no mapping here).
func Map(path string, maxSize int64) (data []byte, size int64, unmap func() error, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, 0, nil, &os.PathError{Op: "map", Path: path, Err: ErrNotRegular}
	}
	if st.Size() == 0 || st.Size() > maxSize {
		return nil, st.Size(), nil, nil
	}
	data, err = ReadFile(path, int(st.Size()))
	return data, st.Size(), func() error { return nil }, err
}

// Exists reports why the file at path cannot be stat'ed, or nil.
func Exists(path string) error {
	_, err := os.Stat(path)
	return err
}

// IsDir reports whether path names a directory, following symbolic links.
func IsDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// ReadDirNames returns the names in the directory at path.
func ReadDirNames(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// Kind reports whether path names a directory, following symbolic links;
// err is set when it cannot be stat'ed.
func Kind(path string) (isDir bool, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return st.IsDir(), nil
}

// FileID is not available here: it reports false.
func FileID(fi os.FileInfo) (dev, ino uint64, ok bool) { return 0, 0, false }

// readInput is ReadInput, reading through an *os.File.
func readInput(path string, limit int64) ([]byte, error) {
	f, err := openInput(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := ReadAllBounded(f, limit)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	return data, nil
}

// openInput opens path for ReadInput, refusing directories and named
// pipes.
func openInput(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	switch {
	case st.IsDir():
		return nil, &os.PathError{Op: "read", Path: path, Err: syscall.EISDIR}
	case st.Mode()&(os.ModeNamedPipe|os.ModeSocket) != 0:
		return nil, &os.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	return os.Open(path)
}

// Scratch returns n bytes of zeroed memory and a function that releases
// them: on this system, memory of the Go heap that the collector frees.
func Scratch(n int) (data []byte, free func(), err error) {
	return make([]byte, n), func() {}, nil
}
