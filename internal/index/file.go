package index

import (
	"errors"
	"fmt"

	"github.com/gokmod/modprobe/internal/fileio"
)

// Open maps the index file at path into memory and checks its header. The
// returned error wraps io/fs.ErrNotExist for a missing file and ErrFormat
// for a file that is not an index (including an empty one). Mapping keeps
// large indexes out of the Go heap and costs nothing until a lookup
// touches a page.
func Open(path string) (*Index, error) {
	data, size, unmap, err := fileio.Map(path, offsetMask)
	if err != nil {
		return nil, err
	}
	if data == nil {
		if size > offsetMask {
			return nil, fmt.Errorf("%s: %w: %d bytes is larger than an index can address", path, ErrFormat, size)
		}
		return nil, fmt.Errorf("%s: %w: %d bytes, shorter than the %d-byte header", path, ErrFormat, size, headerSize)
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
