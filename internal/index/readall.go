package index

import (
	"io"
	"os"
)

// readAll reads size bytes of f into memory, for systems or files that
// cannot be mapped.
func readAll(f *os.File, size int) ([]byte, func() error, error) {
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, nil, err
	}
	return data, func() error { return nil }, nil
}
