package modprobe

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"

	"github.com/gokmod/modprobe/internal/kernel"
	"github.com/gokmod/modprobe/internal/kmodlog"
	"github.com/gokmod/modprobe/internal/modname"
)

// ModuleState says where a module is in the kernel.
type ModuleState int

// Module states, from /sys/module/NAME/initstate and modules.builtin.
const (
	StateNotLoaded ModuleState = iota
	StateLive
	StateComing
	StateGoing
	StateBuiltin
)

// String returns the state as sysfs spells it ("live"), "builtin" or
// "not loaded".
func (s ModuleState) String() string {
	switch s {
	case StateLive:
		return "live"
	case StateComing:
		return "coming"
	case StateGoing:
		return "going"
	case StateBuiltin:
		return "builtin"
	}
	return "not loaded"
}

// Status is a module's state in the kernel.
type Status struct {
	Name  string // the normalized module name
	State ModuleState
	// Refcnt is the module's use count, -1 when sysfs does not show it
	// (a builtin or absent module, or a kernel without module unloading).
	Refcnt int
	// Holders are the modules that use this one, in sysfs order.
	Holders []string
}

// State returns the state of the module called name (a module name, not
// an alias). Like libkmod, a module counts as builtin only when
// modules.builtin names it.
func (l *Loader) State(name string) (Status, error) {
	defer l.keepAlive()
	p, err := l.newPool(context.Background())
	if err != nil {
		return Status{}, moduleErr(OpState, name, "", err)
	}
	m := p.newFromName(modname.Normalize(name))
	st := Status{Name: m.name, Refcnt: -1}
	if p.isBuiltin(m) {
		st.State = StateBuiltin
		return st, nil
	}
	s, err := kernel.ReadInitState(l.sysfs, m.name)
	if err != nil {
		return st, moduleErr(OpState, m.name, "", err)
	}
	switch s {
	case kernel.NotLoaded:
		return st, nil
	case kernel.Live:
		st.State = StateLive
	case kernel.Coming:
		st.State = StateComing
	case kernel.Going:
		st.State = StateGoing
	}
	if n, err := kernel.ReadRefcnt(l.sysfs, m.name); err == nil {
		st.Refcnt = n
	} else if !errors.Is(err, fs.ErrNotExist) {
		return st, moduleErr(OpState, m.name, "", err)
	}
	st.Holders, err = kernel.ReadHolders(l.sysfs, m.name)
	if err != nil {
		return st, moduleErr(OpState, m.name, "", err)
	}
	return st, nil
}

// LoadedModule is a module in the kernel, as lsmod shows it.
type LoadedModule struct {
	Name string
	// Size is the module's core size in bytes.
	Size int64
	// Refcnt is the use count, or a negative errno when sysfs does not
	// show it (lsmod prints it as is).
	Refcnt int
	// Holders are the modules using this one, in sysfs order.
	Holders []string
}

// Loaded lists the modules in the kernel in /proc/modules order (the most
// recent first), with their size, use count and holders read from sysfs
// as lsmod does.
func (l *Loader) Loaded() ([]LoadedModule, error) {
	defer l.keepAlive()
	mods, err := kernel.ReadProcModules(l.proc)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		l.log.errorf(context.Background(), eventLoaded, "could not open %s: %s", filepath.Join(l.proc, "modules"), kmodlog.Strerror(err))
	}
	if err != nil {
		return nil, moduleErr(OpList, "", filepath.Join(l.proc, "modules"), err)
	}
	out := make([]LoadedModule, 0, len(mods))
	for _, m := range mods {
		lm := LoadedModule{Name: m.Name, Size: m.Size}
		if n, err := kernel.ReadCoresize(l.sysfs, m.Name); err == nil {
			lm.Size = n
		}
		lm.Refcnt, err = kernel.ReadRefcnt(l.sysfs, m.Name)
		if err != nil {
			lm.Refcnt = -int(syscall.ENOENT)
			var errno syscall.Errno
			if errors.As(err, &errno) {
				lm.Refcnt = -int(errno)
			}
		}
		lm.Holders, _ = kernel.ReadHolders(l.sysfs, m.Name)
		out = append(out, lm)
	}
	return out, nil
}
