package modprobe

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/gokmod/modprobe/internal/modname"

	"github.com/gokmod/modprobe/internal/kernel"
)

// RemoveOptions adjust a removal like the matching modprobe -r flags.
type RemoveOptions struct {
	// IgnoreCommands ignores remove commands and softdeps (-i).
	IgnoreCommands bool
	// RemoveHolders removes the modules holding each module first
	// (--remove-holders); a failure there stops the removal.
	RemoveHolders bool
	// Wait retries a removal refused because the module is in use, with
	// exponential backoff, for up to this long (--wait), instead of
	// failing at once with ErrInUse.
	Wait time.Duration
	// FirstTime fails with ErrNotLoaded when a module is not loaded
	// (--first-time).
	FirstTime bool
	// Force removes modules even when in use (-f; needs a kernel built
	// with CONFIG_MODULE_FORCE_UNLOAD). Dangerous.
	Force bool
	// DryRun does everything but remove modules and run remove commands
	// (-n).
	DryRun bool
	// Show, if set, is called with each removal just before it happens,
	// as modprobe -v prints it (ActionRemove, ActionRemoveCommand).
	Show func(Action)
	// Report, if set, is called with each error as it happens, including
	// those kmod reports and then ignores: a softdep that is in use, a
	// dependency that could not be removed.
	Report func(error)
}

// Remove removes each name as modprobe -r does: its post softdeps, the
// module (or its remove command), the dependencies left unused, then its
// pre softdeps. Every name is tried; the errors are joined.
func (l *Loader) Remove(ctx context.Context, names ...string) error {
	defer l.keepAlive()
	return l.RemoveWith(ctx, names, RemoveOptions{})
}

// RemoveWith is Remove with options.
func (l *Loader) RemoveWith(ctx context.Context, names []string, opts RemoveOptions) error {
	defer l.keepAlive()
	var errs []error
	for _, name := range names {
		if err := l.removeName(ctx, name, opts); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type remover struct {
	l    *Loader
	p    *pool
	opts RemoveOptions
}

func (r *remover) report(err error) error {
	if r.opts.Report != nil && err != nil {
		r.opts.Report(err)
	}
	return err
}

// removeName is modprobe's rmmod(): resolve name and remove each module
// it stands for, stopping at the first failure.
func (l *Loader) removeName(ctx context.Context, name string, opts RemoveOptions) error {
	p, mods, err := l.resolve(ctx, OpRemove, name)
	r := &remover{l: l, p: p, opts: opts}
	if err != nil {
		return r.report(err)
	}
	for _, m := range mods {
		if err := ctx.Err(); err != nil {
			return moduleErr(OpRemove, m.name, "", err)
		}
		if err := r.module(ctx, m, opts.RemoveHolders, false); err != nil {
			return err
		}
	}
	return nil
}

// module is modprobe's rmmod_do_module. nested marks the removal of a
// softdep or holder, for which a builtin module is no error.
func (r *remover) module(ctx context.Context, m *module, holders, nested bool) error {
	var pre, post []*module
	var cmd *string
	if !r.opts.IgnoreCommands {
		pre, post = r.p.softdepsOf(m)
		if !m.removeInit {
			m.removeInit = true
			m.remove = r.l.conf.removeFor(m.name)
		}
		cmd = m.remove
	}
	if cmd == nil {
		switch {
		case r.p.isBuiltin(m):
			if nested {
				return nil
			}
			return r.report(moduleErr(OpRemove, m.name, "", ErrBuiltin))
		case !r.l.isLoaded(m.name):
			if r.opts.FirstTime {
				return r.report(moduleErr(OpRemove, m.name, "", fmt.Errorf("%w: %w", ErrNotLoaded, syscall.ENOENT)))
			}
			return nil
		}
	}
	for i := len(post) - 1; i >= 0; i-- {
		_ = r.module(ctx, post[i], false, true)
	}
	if holders {
		hs, err := kernel.ReadHolders(r.l.sysfs, m.name)
		if err != nil {
			return r.report(moduleErr(OpRemove, m.name, "", err))
		}
		for i := len(hs) - 1; i >= 0; i-- {
			if err := r.module(ctx, r.p.newFromName(hs[i]), false, true); err != nil {
				return err
			}
		}
	}
	if cmd == nil && r.opts.Wait == 0 {
		if n, err := kernel.ReadRefcnt(r.l.sysfs, m.name); err == nil && n > 0 {
			return r.report(moduleErr(OpRemove, m.name, "", fmt.Errorf("%w: %w", ErrInUse, syscall.EBUSY)))
		}
	}
	if cmd != nil {
		if err := r.command(ctx, m, *cmd); err != nil {
			return err
		}
	} else {
		// A module another step already took (a holder's dependency
		// pass removes it with --remove-holders) is deleted again, and
		// the kernel's ENOENT fails the removal: kmod 30 and 34.2 do so
		// (skipping it is a later, unreleased kmod change).
		if err := r.remove(ctx, m.name); err != nil {
			return err
		}
		// The dependencies nobody uses any more, in one pass, deepest
		// first; failures are ignored.
		for _, d := range r.p.dependencies(m) {
			if n, err := kernel.ReadRefcnt(r.l.sysfs, d.name); err == nil && n == 0 {
				_ = r.remove(ctx, d.name)
			}
		}
	}
	for i := len(pre) - 1; i >= 0; i-- {
		_ = r.module(ctx, pre[i], false, true)
	}
	return nil
}

// isLoaded reports whether a module is in the kernel in any state, as
// libkmod's initstate >= 0.
func (l *Loader) isLoaded(name string) bool {
	st, err := kernel.ReadInitState(l.sysfs, name)
	return err == nil && st != kernel.NotLoaded
}

// command runs a remove command.
func (r *remover) command(ctx context.Context, m *module, cmd string) error {
	cmd = expandCmdlineOpts(cmd, "")
	if r.opts.Show != nil {
		r.opts.Show(Action{Kind: ActionRemoveCommand, Module: m.name, Command: cmd})
	}
	if r.opts.DryRun {
		return nil
	}
	if err := r.l.runCommand(ctx, "remove", m.name, cmd); err != nil {
		return r.report(moduleErr(OpRemove, m.name, "", err))
	}
	return nil
}

// remove is modprobe's rmmod_do_remove_module: delete_module, retried
// with backoff while the module is in use when Wait is set.
func (r *remover) remove(ctx context.Context, name string) error {
	if r.opts.Show != nil {
		r.opts.Show(Action{Kind: ActionRemove, Module: name})
	}
	if r.opts.DryRun {
		return nil
	}
	flags := DeleteNonblock
	if r.opts.Force {
		flags |= DeleteForce
	}
	var deadline time.Time
	delta := time.Duration(0)
	for {
		err := r.l.kern.DeleteModule(name, flags)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EEXIST):
			if r.opts.FirstTime {
				return r.report(moduleErr(OpDelete, name, "", fmt.Errorf("%w: %w", ErrNotLoaded, err)))
			}
			return nil
		case errors.Is(err, syscall.EAGAIN) && r.opts.Wait > 0:
			now := time.Now()
			if deadline.IsZero() {
				deadline = now.Add(r.opts.Wait)
			}
			delta = backoff(delta, deadline.Sub(now))
			if delta <= 0 {
				return r.report(moduleErr(OpDelete, name, "", fmt.Errorf("%w: %w", ErrInUse, err)))
			}
			t := time.NewTimer(delta)
			select {
			case <-ctx.Done():
				t.Stop()
				return r.report(moduleErr(OpDelete, name, "", ctx.Err()))
			case <-t.C:
			}
			continue
		}
		if r.opts.Wait == 0 {
			r.l.log.errorf(ctx, eventRemove, "could not remove '%s': %s", name, errText(err))
		}
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EBUSY) {
			err = fmt.Errorf("%w: %w", ErrInUse, err)
		}
		return r.report(moduleErr(OpDelete, name, "", err))
	}
}

// backoff returns the next wait of kmod's --wait loop: twice the last,
// starting at a millisecond, halved until it fits in the time left.
func backoff(last, left time.Duration) time.Duration {
	d := 2 * last
	if d == 0 {
		d = time.Millisecond
	}
	for d > left && d > 0 {
		d /= 2
	}
	if d < time.Millisecond && left > 0 {
		d = left
	}
	if left <= 0 {
		return 0
	}
	return d
}

// RemoveModule removes the one module called name from the kernel, as
// rmmod does: no dependencies, no softdeps, no configuration and no
// checks (see State for those). Only Force and Wait of opts apply. The
// error is a *ModuleError with Op "delete" wrapping the kernel's errno.
func (l *Loader) RemoveModule(ctx context.Context, name string, opts RemoveOptions) error {
	defer l.keepAlive()
	if l.closed.Load() {
		return moduleErr(OpDelete, name, "", ErrClosed)
	}
	r := &remover{l: l, opts: RemoveOptions{Force: opts.Force, Wait: opts.Wait}}
	return r.remove(ctx, modname.Normalize(name))
}
