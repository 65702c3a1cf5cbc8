//go:build !linux

package kernel

import (
	"errors"
	"os"
)

// OpenUevents fails: uevents are Linux's.
func OpenUevents() (*os.File, error) {
	return nil, errors.ErrUnsupported
}
