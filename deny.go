package modprobe

import (
	"context"
	"fmt"
	"strings"
	"syscall"

	"github.com/gokmod/modprobe/internal/modfile"
	"github.com/gokmod/modprobe/internal/modname"
)

// denyList holds Options.Deny: normalized names and patterns.
type denyList struct {
	entries []string
	index   *patternIndex
}

// newDenyList checks and indexes Options.Deny; nil when it is empty.
func newDenyList(names []string) (*denyList, error) {
	if len(names) == 0 {
		return nil, nil
	}
	d := &denyList{}
	for i, n := range names {
		if n == "" || strings.ContainsAny(n, " \t\n\v\f\r\x00,") {
			return nil, moduleErr(OpOpen, n, "", fmt.Errorf("%w: Options.Deny[%d] is %q, not a module name or pattern", ErrBadName, i, n))
		}
		u, err := modname.Underscores(n)
		if err != nil {
			return nil, moduleErr(OpOpen, n, "", fmt.Errorf("%w: Options.Deny[%d]: %v", ErrBadName, i, err))
		}
		d.entries = append(d.entries, u)
	}
	d.index = newPatternIndex(len(d.entries), func(i int) string { return d.entries[i] })
	return d, nil
}

// denied reports whether the module called name (normalized) is on the
// deny list.
func (l *Loader) denied(name string) bool {
	return l.deny != nil && l.deny.index.first(name) >= 0
}

// DenyEnv is the environment variable that carries a deny list to the
// programs install commands run, as a comma-separated list (gokmod's
// tools read it too).
const DenyEnv = "GOKMOD_DENY"

// SplitDenyList splits a deny list as DenyEnv carries it: names and
// patterns separated by commas or white space.
func SplitDenyList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// denyEnv returns DenyEnv's assignment for install commands, or "".
func (l *Loader) denyEnv() string {
	if l.deny == nil {
		return ""
	}
	return DenyEnv + "=" + strings.Join(l.deny.entries, ",")
}

// deniedErr returns the error for a denied module of a probe for
// requested. It wraps EPERM too, what the kernel answers a load it does
// not permit, so that modprobe's message for it reads as for one.
func deniedErr(module, path, requested string) error {
	if module == requested || requested == "" {
		return &ModuleError{Op: OpInsert, Module: module, Path: path, Err: fmt.Errorf("%w: %s is on the deny list: %w", ErrDenied, module, syscall.EPERM)}
	}
	return &ModuleError{Op: OpInsert, Module: module, Path: path, Err: fmt.Errorf("%w: %s, which %s needs, is on the deny list: %w", ErrDenied, module, requested, syscall.EPERM)}
}

// checkDenied refuses a probe that would insert a denied module it
// cannot do without (the requested module or a dependency), before
// anything of it is inserted. Denied softdeps are left to the action,
// which skips them.
func (r *loadRun) checkDenied(ctx context.Context, pr *Probe) error {
	l := r.l
	if l.deny == nil {
		return nil
	}
	for _, a := range pr.Actions {
		if a.Required && (a.Kind == ActionInsert || a.Kind == ActionInstall) && l.denied(a.Module) && !l.isLive(a.Module) {
			l.log.errorf(ctx, eventDenied, "module %s is on the deny list: not loading %s", a.Module, pr.Module.Name)
			return deniedErr(a.Module, a.Path, pr.Module.Name)
		}
	}
	return nil
}

// checkDeniedFile refuses InsertFile of a denied module: by its file's
// name, and by the name in its image (the kernel's name for it, which a
// renamed file does not change).
func (l *Loader) checkDeniedFile(path string) error {
	if l.deny == nil {
		return nil
	}
	if name := modname.FromPath(path); l.denied(name) {
		return deniedErr(name, path, "")
	}
	image, err := modfile.ReadFile(path, l.maxModuleSize)
	if err != nil {
		return nil // the insert reports it
	}
	name, err := modfile.ThisModuleName(image)
	if err != nil {
		return nil // the kernel refuses an image without it
	}
	if name = modname.Normalize(name); l.denied(name) {
		return deniedErr(name, path, "")
	}
	return nil
}
