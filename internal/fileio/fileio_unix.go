//go:build unix

package fileio

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"syscall"
)

func pathErr(op, path string, err error) error {
	return &fs.PathError{Op: op, Path: path, Err: err}
}

func open(path string, flags int) (int, error) {
	for {
		fd, err := syscall.Open(path, flags|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			if err != nil {
				return -1, pathErr("open", path, err)
			}
			return fd, nil
		}
	}
}

// ReadFile reads at most limit bytes of the file at path (limit < 0 means
// no limit). The error wraps the errno, so errors.Is(err,
// fs.ErrNotExist) works.
//
// A FIFO or a socket is refused (ErrNotRegular), without blocking on it:
// nothing kmod reads this way is one, and reading one could hang or never
// end. Devices are read (/dev/null masks a configuration file).
func ReadFile(path string, limit int) ([]byte, error) {
	fd, err := open(path, syscall.O_RDONLY|syscall.O_NONBLOCK)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	size := 512
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, pathErr("stat", path, err)
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFIFO, syscall.S_IFSOCK:
		return nil, pathErr("read", path, ErrNotRegular)
	case syscall.S_IFREG:
		if st.Size > 0 {
			size = int(st.Size) + 1
		}
	}
	return readFD(fd, path, size, limit)
}

// readFD reads fd to its end or to limit bytes (limit < 0: no limit),
// into a buffer of size bytes to begin with; path names it in errors.
func readFD(fd int, path string, size, limit int) ([]byte, error) {
	if limit >= 0 && size > limit {
		size = limit
	}
	buf := make([]byte, 0, max(size, 1))
	for limit < 0 || len(buf) < limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		room := buf[len(buf):cap(buf)]
		if limit >= 0 && len(room) > limit-len(buf) {
			room = room[:limit-len(buf)]
		}
		n, err := syscall.Read(fd, room)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, pathErr("read", path, err)
		}
		if n == 0 {
			break
		}
		buf = buf[:len(buf)+n]
	}
	return buf, nil
}

// ReadRegular reads the regular file at path, which must not be larger
// than limit bytes. Unlike ReadFile it refuses devices and FIFOs (without
// blocking on a FIFO).
func ReadRegular(path string, limit int64) ([]byte, error) {
	fd, err := open(path, syscall.O_RDONLY|syscall.O_NONBLOCK)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, pathErr("stat", path, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, pathErr("read", path, ErrNotRegular)
	}
	if st.Size > limit {
		return nil, pathErr("read", path, ErrTooLarge)
	}
	buf := make([]byte, st.Size)
	for n := 0; n < len(buf); {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, pathErr("read", path, err)
		}
		if m == 0 {
			return buf[:n], nil
		}
		n += m
	}
	return buf, nil
}

// OpenRegular opens the regular file at path for reading, refusing
// anything else without blocking on a FIFO: module files are opened this
// way. A directory fails with EISDIR (what reading it would report, as
// kmod does), any other kind of file with ErrNotRegular.
func OpenRegular(path string) (*os.File, error) {
	return openChecked(path, false)
}

// readInput is ReadInput on the descriptor itself: FIFOs and sockets are
// refused without blocking, directories with EISDIR; devices are read.
// No *os.File is made: one for a descriptor opened O_NONBLOCK would
// register it with the runtime's network poller (whose first use creates
// an epoll instance and an eventfd), for a file read once.
func readInput(path string, limit int64) ([]byte, error) {
	fd, st, err := openStat(path, true)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	size := 512
	if st.Mode&syscall.S_IFMT == syscall.S_IFREG && st.Size > 0 {
		size = int(min(st.Size, limit)) + 1 // one more: the end of the file is seen at once
	}
	// One byte past limit tells a larger input.
	data, err := readFD(fd, path, size, int(min(limit, math.MaxInt-1))+1)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, pathErr("read", path, tooLarge(limit))
	}
	return data, nil
}

// openChecked opens path for reading without blocking on a FIFO, and
// keeps it only when it is a regular file, or a device when devices is
// set: a directory fails with EISDIR (what reading it would say, as kmod
// reports), anything else with ErrNotRegular.
func openChecked(path string, devices bool) (*os.File, error) {
	fd, st, err := openStat(path, devices)
	if err != nil {
		return nil, err
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFREG {
		// O_NONBLOCK, which kept the open from waiting on a FIFO, means
		// nothing to a regular file's reads, but os.NewFile would take
		// the descriptor to the network poller: its first use creates an
		// epoll instance and an eventfd, and each file costs a refused
		// epoll_ctl. (openStat cleared it on a device already.)
		if err := clearStatusFlags(fd); err != nil {
			syscall.Close(fd)
			return nil, pathErr("open", path, err)
		}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// clearStatusFlags clears the file status flags of fd, which open set to
// O_RDONLY|O_NONBLOCK only: one fcntl(F_SETFL) where
// syscall.SetNonblock makes two (F_GETFL first). F_SETFL changes none of
// the access mode bits, so the descriptor stays read-only. A module
// load opens one file a module, between two finit_module calls that the
// kernel's work dominates: a system call less there is time the next
// load starts sooner.
func clearStatusFlags(fd int) error {
	if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_SETFL, 0); e != 0 {
		return e
	}
	return nil
}

// openStat is openChecked's descriptor and the file's status.
func openStat(path string, devices bool) (int, *syscall.Stat_t, error) {
	fd, err := open(path, syscall.O_RDONLY|syscall.O_NONBLOCK)
	if err != nil {
		return -1, nil, err
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return -1, nil, pathErr("stat", path, err)
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
	case syscall.S_IFCHR, syscall.S_IFBLK:
		if !devices {
			syscall.Close(fd)
			return -1, nil, pathErr("open", path, ErrNotRegular)
		}
		// Reads block again (a device may need it); the descriptor stays
		// out of the network poller.
		if err := clearStatusFlags(fd); err != nil {
			syscall.Close(fd)
			return -1, nil, pathErr("open", path, err)
		}
	case syscall.S_IFDIR:
		syscall.Close(fd)
		return -1, nil, pathErr("read", path, syscall.EISDIR)
	default:
		syscall.Close(fd)
		return -1, nil, pathErr("open", path, ErrNotRegular)
	}
	return fd, &st, nil
}

// Map maps the regular file at path read-only into memory and returns its
// contents and a function that unmaps them. It returns the size of the
// file in size even when it is too small or too large to map (maxSize),
// so that callers can report it.
func Map(path string, maxSize int64) (data []byte, size int64, unmap func() error, err error) {
	fd, err := open(path, syscall.O_RDONLY|syscall.O_NONBLOCK)
	if err != nil {
		return nil, 0, nil, err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, 0, nil, pathErr("stat", path, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, 0, nil, pathErr("map", path, ErrNotRegular)
	}
	if st.Size == 0 || st.Size > maxSize {
		return nil, st.Size, nil, nil
	}
	data, err = syscall.Mmap(fd, 0, int(st.Size), syscall.PROT_READ, syscall.MAP_PRIVATE)
	if err != nil {
		// Some file systems cannot map: read the file instead.
		data, rerr := ReadFile(path, int(st.Size))
		if rerr != nil {
			return nil, st.Size, nil, rerr
		}
		return data, st.Size, func() error { return nil }, nil
	}
	return data, st.Size, func() error { return syscall.Munmap(data) }, nil
}

// Exists reports why the file at path cannot be stat'ed, or nil.
func Exists(path string) error {
	var st syscall.Stat_t
	for {
		err := syscall.Stat(path, &st)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return pathErr("stat", path, err)
		}
		return nil
	}
}

// IsDir reports whether path names a directory, following symbolic links.
func IsDir(path string) bool {
	var st syscall.Stat_t
	return syscall.Stat(path, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFDIR
}

// ReadDirNames returns the names in the directory at path, without "."
// and "..", in directory order.
func ReadDirNames(path string) ([]string, error) {
	fd, err := open(path, syscall.O_RDONLY|syscall.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	var names []string
	// The buffer is sized at run time so that it lives on the heap: a
	// constant 8 KiB would sit in this function's frame, and the caller's
	// goroutine stack (a program's main one starts at 8 KiB) would be
	// grown and copied for it, touching new pages in a short process.
	buf := make([]byte, 2*os.Getpagesize())
	for {
		n, err := syscall.ReadDirent(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, pathErr("readdirent", path, err)
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = syscall.ParseDirent(buf[:n], -1, names)
	}
}

// Kind reports whether path names a directory, following symbolic links;
// err is set when it cannot be stat'ed.
func Kind(path string) (isDir bool, err error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return false, pathErr("stat", path, err)
	}
	return st.Mode&syscall.S_IFMT == syscall.S_IFDIR, nil
}

// FileID returns the device and inode numbers of fi, which tell whether
// two paths name the same file.
func FileID(fi fs.FileInfo) (dev, ino uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return uint64(st.Dev), uint64(st.Ino), true
}

// Scratch returns n bytes of zeroed memory outside the Go heap (an
// anonymous private mapping) and a function that returns them to the
// system. Memory that a program reuses for large, short-lived contents
// (a decompressed module) then neither raises the collector's goal nor
// waits for a collection to be freed; only the pages written count in
// the process's resident size.
func Scratch(n int) (data []byte, free func(), err error) {
	data, err = syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, nil, fmt.Errorf("scratch memory of %d bytes: %w", n, err)
	}
	return data, func() { _ = syscall.Munmap(data) }, nil
}
