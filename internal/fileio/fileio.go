// Package fileio reads files with as few system calls as possible. A
// modprobe run opens a dozen small files (modprobe.d, the kernel command
// line, sysfs, the indexes) and its whole run takes a few milliseconds, so
// the descriptor setup os.Open does for the network poller (fstat, fcntl,
// epoll_ctl on every file) is a real share of it. On Unix these functions
// use plain open/read/close; elsewhere they use package os.
package fileio

import (
	"errors"
	"io/fs"
)

// ErrNotRegular is wrapped by Map and ReadRegular for a file that is not a
// regular file (a directory, a device, a FIFO).
var ErrNotRegular = fs.ErrInvalid

// ErrTooLarge is wrapped by ReadRegular, ReadInput and ReadAllBounded for
// input over its size limit.
var ErrTooLarge = errors.New("file too large")
