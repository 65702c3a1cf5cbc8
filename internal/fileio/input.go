package fileio

import (
	"fmt"
	"io"
)

// ReadInput reads the whole of the input file at path, refusing one of
// more than limit bytes: the size is checked while reading, so a file that
// grows, a /proc file whose size stat does not tell and an endless device
// (/dev/zero) all stop at limit+1 bytes with an error wrapping ErrTooLarge.
// A FIFO or a socket is refused at once, without waiting for a writer
// (ErrNotRegular), a directory with EISDIR; other devices are read, so
// /dev/null is an empty input. Errors are *fs.PathError values naming path.
//
// It is how gokmod reads every input named by a path that is not a module
// file or an index: worker configurations, configuration.toml, an OCI
// bundle's config.json.
func ReadInput(path string, limit int64) ([]byte, error) {
	if limit < 0 {
		limit = 0
	}
	return readInput(path, limit)
}

// tooLarge is the error of an input of more than limit bytes.
func tooLarge(limit int64) error {
	return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
}

// ReadAllBounded reads r to its end, refusing more than limit bytes: it
// reads at most limit+1 bytes, and one past limit fails with an error
// wrapping ErrTooLarge. Standard input and network bodies are read this
// way.
func ReadAllBounded(r io.Reader, limit int64) ([]byte, error) {
	if limit < 0 {
		limit = 0
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(limit)
	}
	return data, nil
}
