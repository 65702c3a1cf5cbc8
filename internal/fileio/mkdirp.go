package fileio

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// MkdirError is MkdirP's error: the directory it could not make and why,
// and the errno a C program's %m shows after kmod's mkdir_p fails, which
// kmod's messages print. That is not always the reason: when the first
// path MkdirP finds in existence is a file, it is the error of the last
// stat that failed before it, or none at all (0, "Success") when the
// file is dir itself.
type MkdirError struct {
	Path  string
	Err   error
	Shown syscall.Errno
}

func (e *MkdirError) Error() string { return "mkdir " + e.Path + ": " + e.Err.Error() }

// Unwrap returns the reason.
func (e *MkdirError) Unwrap() error { return e.Err }

// MkdirP is kmod's mkdir_p: it makes dir and the directories above it
// that are missing, each with mode perm; one that exists already is no
// error. A file where a directory should be is ENOTDIR. The error is a
// *MkdirError.
func MkdirP(dir string, perm fs.FileMode) error {
	// Scan up from dir to the first path that exists, as kmod does,
	// remembering the error of each stat that fails.
	var shown syscall.Errno
	var missing []string
	p := dir
	for {
		st, err := os.Stat(p)
		if err == nil {
			if !st.IsDir() {
				return &MkdirError{Path: dir, Err: syscall.ENOTDIR, Shown: shown}
			}
			break
		}
		if !errors.As(err, &shown) {
			shown = syscall.EIO
		}
		missing = append(missing, p)
		i := strings.LastIndexByte(p, '/')
		if i <= 0 {
			break // the top of a relative path, or "/x"
		}
		p = strings.TrimRight(p[:i], "/")
		if p == "" {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], perm); err != nil && !errors.Is(err, fs.ErrExist) {
			var errno syscall.Errno
			if !errors.As(err, &errno) {
				errno = syscall.EIO
			}
			return &MkdirError{Path: missing[i], Err: err, Shown: errno}
		}
	}
	return nil
}
