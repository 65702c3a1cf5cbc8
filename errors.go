package modprobe

import (
	"errors"
	"fmt"
)

// Sentinel errors. A Loader never returns them bare: they are wrapped in a
// *ModuleError, so test for them with errors.Is.
var (
	// ErrNotFound: no module, alias or builtin module matches the name.
	ErrNotFound = errors.New("module not found")
	// ErrBuiltin: the module is built into the kernel.
	ErrBuiltin = errors.New("module is builtin")
	// ErrInUse: the module is in use and cannot be removed.
	ErrInUse = errors.New("module is in use")
	// ErrAlreadyLoaded: the module is already in the kernel and the
	// caller asked for a first-time load.
	ErrAlreadyLoaded = errors.New("module already in kernel")
	// ErrBadName: the name cannot be a module name or alias (an
	// unmatched bracket, a NUL byte, or a name too long for kmod).
	ErrBadName = errors.New("invalid module name")
)

// ModuleError describes a failed operation on one module.
type ModuleError struct {
	Op     string // "lookup", "plan", ...
	Module string // the name as the caller gave it, or the module's name
	Path   string // the module file or directory concerned, if any
	Err    error
}

func (e *ModuleError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("%s %s (%s): %v", e.Op, e.Module, e.Path, e.Err)
	}
	return fmt.Sprintf("%s %s: %v", e.Op, e.Module, e.Err)
}

// Unwrap returns the underlying error.
func (e *ModuleError) Unwrap() error { return e.Err }
