//go:build unix

package fileio

import (
	"os"
	"syscall"
)

// OpenDir opens the directory at path for reading its entries, as
// opendir(3) does: anything else fails with ENOTDIR, and a FIFO put where
// a directory was expected fails at once instead of blocking in open(2)
// (the kernel checks O_DIRECTORY before it opens the file).
func OpenDir(path string) (*os.File, error) {
	fd, err := open(path, syscall.O_RDONLY|syscall.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}
