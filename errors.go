package modprobe

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gokmod/modprobe/internal/modfile"
)

// Sentinel errors. A Loader never returns them bare: they are wrapped in a
// *ModuleError, so test for them with errors.Is.
var (
	// ErrNotFound: no module, alias or builtin module matches the name.
	ErrNotFound = errors.New("module not found")
	// ErrBadName: the name cannot be looked up: it has an unmatched
	// bracket or a NUL byte, or, with the alias it was reached through,
	// it does not fit in kmod's PATH_MAX.
	ErrBadName = errors.New("invalid module name")
	// ErrAlreadyLoaded: the module is already in the kernel and the
	// caller asked for a first-time load.
	ErrAlreadyLoaded = errors.New("module already in kernel")
	// ErrClosed: the Loader has been closed.
	ErrClosed = errors.New("loader closed")
	// ErrBadParams: a module parameter holds a newline or a NUL byte,
	// which the kernel would read as a separator or the end of the
	// parameters, or starts with '-', which an install command would
	// read as an option (see LoadOptions.RawCmdlineOpts).
	ErrBadParams = errors.New("invalid module parameters")
	// ErrTooLarge: a compressed module decompresses to more than the
	// Loader's limit (Options.MaxModuleSize).
	ErrTooLarge = modfile.ErrTooLarge
)

// ModuleError describes a failed operation on one module. Errors from the
// kernel wrap the syscall.Errno it returned, so errors.Is(err,
// syscall.ENOENT) and the like work.
type ModuleError struct {
	Op     string // "lookup", "plan", "insert"
	Module string // the name as the caller gave it, or the module's name
	Path   string // the module file or directory concerned, if any
	Err    error
	// KernelLog holds what the kernel logged about the module while
	// refusing it (an unknown symbol, a bad parameter, a version magic
	// mismatch), read from the kernel log; empty when it said nothing or
	// the log could not be read.
	KernelLog []string
}

// Error returns "OP MODULE: ERR", with the path in parentheses when set.
func (e *ModuleError) Error() string {
	var s string
	if e.Path != "" {
		s = fmt.Sprintf("%s %s (%s): %v", e.Op, e.Module, e.Path, e.Err)
	} else {
		s = fmt.Sprintf("%s %s: %v", e.Op, e.Module, e.Err)
	}
	if len(e.KernelLog) > 0 {
		s += " (kernel: " + strings.Join(e.KernelLog, "; ") + ")"
	}
	return s
}

// Unwrap returns the underlying error.
func (e *ModuleError) Unwrap() error { return e.Err }

// moduleErr wraps err in a ModuleError.
func moduleErr(op, name, path string, err error) error {
	return &ModuleError{Op: op, Module: name, Path: path, Err: err}
}
