package modprobe

import (
	"context"
	"errors"
	"io/fs"

	"github.com/gokmod/modprobe/internal/kernel"
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
	p, err := l.newPool(context.Background())
	if err != nil {
		return Status{}, moduleErr("state", name, "", err)
	}
	m := p.newFromName(modname.Normalize(name))
	st := Status{Name: m.name, Refcnt: -1}
	if p.isBuiltin(m) {
		st.State = StateBuiltin
		return st, nil
	}
	s, err := kernel.ReadInitState(l.sysfs, m.name)
	if err != nil {
		return st, moduleErr("state", m.name, "", err)
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
		return st, moduleErr("state", m.name, "", err)
	}
	st.Holders, err = kernel.ReadHolders(l.sysfs, m.name)
	if err != nil {
		return st, moduleErr("state", m.name, "", err)
	}
	return st, nil
}
