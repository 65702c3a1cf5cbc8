package index

import (
	"errors"
	"fmt"
	"os"
)

// Open maps the index file at path into memory and checks its header. The
// returned error wraps io/fs.ErrNotExist for a missing file and ErrFormat for a
// file that is not an index (including an empty one).
func Open(path string) (*Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w: not a regular file", path, ErrFormat)
	}
	if st.Size() > offsetMask {
		return nil, fmt.Errorf("%s: %w: %d bytes is larger than an index can address", path, ErrFormat, st.Size())
	}
	if st.Size() < headerSize {
		return nil, fmt.Errorf("%s: %w: %d bytes, shorter than the %d-byte header", path, ErrFormat, st.Size(), headerSize)
	}
	data, unmap, err := mapFile(f, int(st.Size()))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	x, err := New(data)
	if err != nil {
		_ = unmap()
		var he *HeaderError
		if errors.As(err, &he) {
			return nil, &PathError{Path: path, Err: err}
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	x.unmap = unmap
	return x, nil
}

// PathError is a header error together with the file it was found in.
type PathError struct {
	Path string
	Err  error
}

func (e *PathError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *PathError) Unwrap() error { return e.Err }
