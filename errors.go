package modprobe

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gokmod/modprobe/internal/modfile"
)

// Sentinel errors: every one the package has. A Loader never returns them
// bare: they are wrapped in a *ModuleError, so test for them with
// errors.Is.
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
	// ErrCommandFailed: an install or remove command could not run or
	// exited with a non-zero status (the error is also a *CommandError).
	ErrCommandFailed = errors.New("command failed")
	// ErrBuiltin: the module is built into the kernel and cannot be
	// removed (Op OpRemove).
	ErrBuiltin = errors.New("module is builtin")
	// ErrInUse: the module is in use, its reference count not zero (Op
	// OpRemove when modprobe's check found it, OpDelete when
	// delete_module(2) refused).
	ErrInUse = errors.New("module is in use")
	// ErrNotLoaded: a first-time removal found the module not loaded.
	ErrNotLoaded = errors.New("module not in kernel")
	// ErrDenied: the module, or a module it needs, is on the Loader's
	// deny list (Options.Deny); nothing of the probe was inserted.
	ErrDenied = errors.New("module is denied")
)

// Op names the step that failed in a ModuleError. Compare it with the
// constants below; the strings are what Error prints.
type Op string

// The steps a ModuleError names.
const (
	// OpOpen: Open found an option naming a bad module (Options.Softdeps).
	OpOpen Op = "open"
	// OpLookup: Lookup or LookupFile could not resolve the name or path.
	OpLookup Op = "lookup"
	// OpPlan: Plan or PlanFile could not resolve the name or path, or
	// build its probe.
	OpPlan Op = "plan"
	// OpLoad: a load request as a whole failed before or around its
	// modules' own steps: a bad name or parameters, a closed Loader, or a
	// requested module whose probe failed (the failing module's own
	// *ModuleError is wrapped inside, and its KernelLog is copied here).
	OpLoad Op = "load"
	// OpInsert: the kernel refused a module (or it was already in, or
	// its file is missing).
	OpInsert Op = "insert"
	// OpInstall: an install command failed.
	OpInstall Op = "install"
	// OpRemove: a module could not be removed: it is builtin, not
	// loaded, in use, or its remove command failed.
	OpRemove Op = "remove"
	// OpDelete: the kernel refused to delete a module (delete_module).
	OpDelete Op = "delete"
	// OpState: a module's state could not be read from sysfs.
	OpState Op = "state"
	// OpConfig: WriteConfig could not read the indexes or write out.
	OpConfig Op = "config"
	// OpList: Loaded could not read the list of modules (/proc/modules).
	OpList Op = "list"
)

// ModuleError describes a failed operation on one module. Errors from the
// kernel wrap the syscall.Errno it returned, so errors.Is(err,
// syscall.ENOENT) and the like work.
type ModuleError struct {
	Op     Op     // the step that failed
	Module string // the name as the caller gave it, or the module's name
	Path   string // the module file or directory concerned, if any
	Err    error
	// KernelLog holds what the kernel logged about the module while
	// refusing it (an unknown symbol, a bad parameter, a version magic
	// mismatch), read from the kernel log; empty when it said nothing or
	// the log could not be read.
	KernelLog []string
}

// Error returns "OP MODULE: ERR", with the path in parentheses when set
// and without MODULE when the error concerns none.
func (e *ModuleError) Error() string {
	s := strings.TrimSpace(string(e.Op) + " " + e.Module)
	if e.Path != "" {
		s += " (" + e.Path + ")"
	}
	if s == "" {
		s = fmt.Sprint(e.Err)
	} else {
		s += fmt.Sprintf(": %v", e.Err)
	}
	var inner *ModuleError
	if len(e.KernelLog) > 0 && !(errors.As(e.Err, &inner) && len(inner.KernelLog) > 0) {
		s += " (kernel: " + strings.Join(e.KernelLog, "; ") + ")" // not said by the inner error already
	}
	return s
}

// Unwrap returns the underlying error.
func (e *ModuleError) Unwrap() error { return e.Err }

// moduleErr wraps err in a ModuleError. When err holds a ModuleError with
// kernel log lines, the new one carries them too, so that errors.As,
// which finds the outer error first, sees what the kernel said.
func moduleErr(op Op, name, path string, err error) error {
	me := &ModuleError{Op: op, Module: name, Path: path, Err: err}
	var inner *ModuleError
	if errors.As(err, &inner) {
		me.KernelLog = inner.KernelLog
	}
	return me
}

// Failures splits an error a Loader returned into one *ModuleError per
// failure: the branches of a joined error (LoadAll's, RemoveWith's, or
// errors.Join's), each as its innermost *ModuleError (a failing
// dependency's rather than the requested module's). A branch that holds
// no ModuleError (a context's error, say) comes as a ModuleError with an
// empty Op and Module wrapping it. It returns nil for nil.
func Failures(err error) []*ModuleError {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*ModuleError
		for _, e := range j.Unwrap() {
			out = append(out, Failures(e)...)
		}
		return out
	}
	var me *ModuleError
	if !errors.As(err, &me) {
		return []*ModuleError{{Err: err}}
	}
	var inner *ModuleError
	if errors.As(me.Err, &inner) {
		return Failures(me.Err)
	}
	return []*ModuleError{me}
}
