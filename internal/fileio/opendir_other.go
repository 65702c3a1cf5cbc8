//go:build !unix

package fileio

import (
	"os"
	"syscall"
)

// OpenDir opens the directory at path for reading its entries; anything
// else fails with ENOTDIR.
func OpenDir(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, &os.PathError{Op: "open", Path: path, Err: syscall.ENOTDIR}
	}
	return os.Open(path)
}
