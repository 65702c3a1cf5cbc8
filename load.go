package modprobe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/gokmod/modprobe/internal/modname"

	"github.com/gokmod/modprobe/internal/kernel"
	"github.com/gokmod/modprobe/internal/kmodlog"
)

// LoadOptions adjust a load like the matching modprobe flags.
type LoadOptions struct {
	// FirstTime fails the load with ErrAlreadyLoaded when the requested
	// module is already loaded (--first-time).
	FirstTime bool
	// IgnoreCommands ignores the install command and the softdeps of the
	// requested module (-i).
	IgnoreCommands bool
	// UseBlacklist applies the blacklist to the requested name too (-b).
	UseBlacklist bool
	// ForceVermagic and ForceModversion load modules whose version magic
	// or symbol versions do not match the kernel (--force-vermagic,
	// --force-modversion; -f sets both).
	ForceVermagic, ForceModversion bool
	// DryRun does everything but insert modules and run install
	// commands (-n).
	DryRun bool
	// Jobs, when above 1, loads independent modules in parallel, at most
	// Jobs at a time: a module starts once the modules it depends on (its
	// modules.dep line and its pre softdeps) are in, install commands run
	// alone, and each module is inserted once. A negative value means
	// runtime.GOMAXPROCS(0). Dry runs are always sequential.
	Jobs int
	// Show, if set, is called with each action just before it is taken,
	// as modprobe -v prints it. Calls never overlap, whatever Jobs is:
	// Show needs no lock of its own. With Jobs above 1 they come in the
	// order the actions start, which for independent modules may differ
	// from run to run.
	Show func(Action)
	// RawCmdlineOpts substitutes the caller's parameters for
	// $CMDLINE_OPTS in install commands as they are, as kmod does, for
	// /bin/sh to read: a parameter may then expand, substitute commands
	// and split into more words. Set it only for parameters an
	// administrator typed (gokmod modprobe does). By default each
	// parameter holding anything but letters, digits and "_-.,:=+/@%" is
	// single-quoted, so that the command sees it as one word of data, and
	// parameters starting with '-' (an option to a command such as
	// modprobe) are refused with ErrBadParams. The configuration's own
	// options are substituted as they are either way.
	RawCmdlineOpts bool
}

func (o LoadOptions) jobs() int {
	if o.DryRun {
		return 1
	}
	if o.Jobs < 0 {
		return runtime.GOMAXPROCS(0)
	}
	return max(o.Jobs, 1)
}

// Load loads the module called name (a module name or an alias) with the
// given parameters ("key=value"), and the modules it depends on, as
// modprobe does. A module that is already loaded or built in is success.
func (l *Loader) Load(ctx context.Context, name string, params ...string) error {
	defer l.keepAlive()
	return l.LoadWith(ctx, name, params, LoadOptions{})
}

// LoadWith is Load with options. When name resolves to several modules,
// each is probed, as modprobe does, and the errors are joined; each is a
// *ModuleError with Op OpLoad naming the probed module, wrapping the
// error of the step that failed (a *ModuleError with Op OpInsert or
// OpInstall).
func (l *Loader) LoadWith(ctx context.Context, name string, params []string, opts LoadOptions) error {
	defer l.keepAlive()
	return l.loadAll(ctx, []loadRequest{{name: name, params: params}}, opts)
}

// LoadAll loads each name as modprobe -a does: every name is tried, and
// the errors are joined.
func (l *Loader) LoadAll(ctx context.Context, names ...string) error {
	defer l.keepAlive()
	return l.LoadAllWith(ctx, names, LoadOptions{})
}

// LoadAllWith is LoadAll with options. With Jobs above 1 the names are
// loaded in parallel too.
func (l *Loader) LoadAllWith(ctx context.Context, names []string, opts LoadOptions) error {
	defer l.keepAlive()
	reqs := make([]loadRequest, len(names))
	for i, n := range names {
		reqs[i].name = n
	}
	return l.loadAll(ctx, reqs, opts)
}

// checkRequest refuses what no module name or parameter can hold and
// what would change the meaning of the request: a name starting with '-'
// (an option to a modprobe command line), holding '/' (a path) or a NUL
// byte, or parameters with a newline or NUL byte (the kernel would split
// them into more parameters). Unless raw (LoadOptions.RawCmdlineOpts),
// a parameter starting with '-' is refused too: an install command would
// take it for an option.
func checkRequest(name string, params []string, raw bool) error {
	if name == "" || strings.HasPrefix(name, "-") || strings.ContainsAny(name, "/\x00") {
		return moduleErr(OpLoad, name, "", fmt.Errorf("%w: %q", ErrBadName, name))
	}
	for _, p := range params {
		if strings.ContainsAny(p, "\n\x00") || !raw && strings.HasPrefix(p, "-") {
			return moduleErr(OpLoad, name, "", fmt.Errorf("%w: %q", ErrBadParams, p))
		}
	}
	return nil
}

// LoadProbe runs one probe of a plan made with Plan, as LoadWith runs
// each: modules already loaded are skipped as they are found, and the
// first failure of a required module stops it. Its error is the failing
// step's (a *ModuleError with Op OpInsert or OpInstall), or a
// *ModuleError wrapping ErrAlreadyLoaded for a first-time load. Probes
// from Plan carry no parallel schedule, so Jobs is ignored. Unless
// opts.RawCmdlineOpts, a plan made with a parameter starting with '-' is
// refused with ErrBadParams, as LoadWith refuses it.
func (l *Loader) LoadProbe(ctx context.Context, pr *Probe, opts LoadOptions) error {
	defer l.keepAlive()
	if l.closed.Load() {
		return moduleErr(OpLoad, pr.Module.Name, "", ErrClosed)
	}
	if c := pr.caller; c != nil && c.option && !opts.RawCmdlineOpts {
		// As LoadWith refuses them (checkRequest).
		return moduleErr(OpLoad, pr.Module.Name, "", fmt.Errorf("%w: a parameter starting with '-'", ErrBadParams))
	}
	run := l.newRun(opts, 1)
	defer run.close()
	return run.probe(ctx, pr)
}

func (l *Loader) newRun(opts LoadOptions, jobs int) *loadRun {
	l.runs.Add(1)
	run := &loadRun{l: l, opts: opts, sem: make(chan struct{}, jobs)}
	if !opts.DryRun {
		if k, err := kernel.OpenKmsg(l.kmsgPath); err == nil {
			run.kmsg = k
		}
	}
	return run
}

func (r *loadRun) close() {
	r.l.runs.Add(-1)
	if r.kmsg != nil {
		r.kmsg.Close()
	}
	r.logs.close()
}

type loadRequest struct {
	name   string
	params []string
}

// loadRun is the state one Load or LoadAll call shares between its
// probes.
type loadRun struct {
	l    *Loader
	opts LoadOptions
	sem  chan struct{} // bounds the inserts in progress
	kmsg *kernel.Kmsg  // the kernel log, from before the first insert
	logs kernelLogs    // kernel log descriptors for offers of compressed files
	mu   sync.Mutex    // serializes reads of kmsg
	// showMu serializes the calls of opts.Show.
	showMu sync.Mutex
}

func (l *Loader) loadAll(ctx context.Context, reqs []loadRequest, opts LoadOptions) error {
	if l.closed.Load() {
		return moduleErr(OpLoad, "", "", ErrClosed)
	}
	jobs := opts.jobs()
	run := l.newRun(opts, jobs)
	defer run.close()
	popts := PlanOptions{IgnoreCommands: opts.IgnoreCommands, UseBlacklist: opts.UseBlacklist, DeferStateChecks: true}
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		if err := checkRequest(r.name, r.params, opts.RawCmdlineOpts); err != nil {
			errs[i] = err
			continue
		}
		plan, err := l.plan(ctx, r.name, r.params, popts, jobs > 1)
		if err != nil {
			errs[i] = err
			continue
		}
		if jobs > 1 && len(reqs) > 1 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = run.plan(ctx, plan)
			}()
			continue
		}
		errs[i] = run.plan(ctx, plan)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// plan runs every probe of a plan, as modprobe does, joining the errors.
func (r *loadRun) plan(ctx context.Context, plan *Plan) error {
	var errs []error
	for i := range plan.Probes {
		pr := &plan.Probes[i]
		if err := r.probe(ctx, pr); err != nil {
			errs = append(errs, moduleErr(OpLoad, pr.Module.Name, "", err))
		}
	}
	return errors.Join(errs...)
}

// probe runs one probe: kmod_module_probe_insert_module.
func (r *loadRun) probe(ctx context.Context, pr *Probe) error {
	switch pr.Skip {
	case SkipLoaded:
		if r.opts.FirstTime {
			return alreadyLoaded(pr.Module.Name)
		}
		return nil
	case SkipBlacklisted:
		return nil
	}
	if err := r.checkDenied(ctx, pr); err != nil {
		return err
	}
	if pr.after != nil && cap(r.sem) > 1 {
		return r.parallel(ctx, pr)
	}
	for i := range pr.Actions {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.verdict(&pr.Actions[i], r.action(ctx, pr, &pr.Actions[i])); err != nil {
			return err
		}
	}
	return nil
}

// errLoaded is an action's result for a module found in the kernel: a
// value of loadedError, which the compiler lays out as data, where
// fmt.Errorf would run at every start of a program importing gokmod.
var errLoaded error = loadedError{}

// loadedError is errLoaded's type: "already loaded", wrapping EEXIST.
type loadedError struct{}

func (loadedError) Error() string { return "already loaded: " + syscall.EEXIST.Error() }
func (loadedError) Unwrap() error { return syscall.EEXIST }

func alreadyLoaded(name string) error {
	return moduleErr(OpInsert, name, "", fmt.Errorf("%w: %w", ErrAlreadyLoaded, syscall.EEXIST))
}

// verdict applies kmod's error policy to an action's result: nil to go
// on, or the error that stops the probe.
func (r *loadRun) verdict(a *Action, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EEXIST):
		if a.Requested && r.opts.FirstTime {
			return alreadyLoaded(a.Module)
		}
		return nil
	case !a.Required:
		return nil // softdeps may fail
	}
	return err
}

// show calls opts.Show with a, never while another call runs.
func (r *loadRun) show(a *Action) {
	if r.opts.Show == nil {
		return
	}
	r.showMu.Lock()
	defer r.showMu.Unlock()
	r.opts.Show(*a)
}

// action takes one action, a, of probe pr.
func (r *loadRun) action(ctx context.Context, pr *Probe, a *Action) error {
	l := r.l
	if a.Kind == ActionBuiltin || l.isLive(a.Module) {
		return errLoaded
	}
	if (a.Kind == ActionInsert || a.Kind == ActionInstall) && l.denied(a.Module) {
		// A softdep: checkDenied stopped the probe for anything else.
		l.log.errorf(ctx, eventDenied, "module %s is on the deny list: not loading it for %s", a.Module, pr.Module.Name)
		return deniedErr(a.Module, a.Path, pr.Module.Name)
	}
	if a.Kind != ActionInsert || r.opts.DryRun {
		r.show(a)
	}
	if r.opts.DryRun {
		return nil
	}
	switch a.Kind {
	case ActionInstall:
		cmd, err := pr.installCommand(a, r.opts.RawCmdlineOpts)
		if err != nil {
			return moduleErr(OpInstall, a.Module, "", err)
		}
		err = l.runCommand(ctx, "install", a.Module, cmd)
		if err != nil {
			l.logCommandError(ctx, err, a.Module)
			return moduleErr(OpInstall, a.Module, "", fmt.Errorf("%w: %w", err, syscall.EINVAL))
		}
		return nil
	case ActionNoFile:
		l.log.errorf(ctx, eventNoPath, "could not find module by name='%s'", a.Module)
		return moduleErr(OpInsert, a.Module, "", fmt.Errorf("%w: %w", ErrNotFound, syscall.ENOENT))
	}
	// A module whose action has begun goes in; one that has to wait for
	// a slot does not once the load is cancelled.
	select {
	case r.sem <- struct{}{}:
	default:
		select {
		case r.sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := ctx.Err(); err != nil {
			<-r.sem
			return err
		}
	}
	err, shared := l.flights.do(ctx, a.Module, func() error {
		// A concurrent caller may have inserted it since the check above.
		if (l.runs.Load() > 1 || cap(r.sem) > 1) && l.isLive(a.Module) {
			return errLoaded
		}
		// Shown here, by the one caller that inserts: two probes of a
		// parallel run that both need the module show it once.
		r.show(a)
		return l.insertFile(a.Path, a.Params, insertFlags{vermagic: r.opts.ForceVermagic, modversion: r.opts.ForceModversion}, &r.logs)
	})
	<-r.sem
	if shared {
		if err == nil {
			return errLoaded // another caller inserted it
		}
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return err // this caller stopped waiting for another's insert
		}
	}
	if err == nil || err == errLoaded {
		return err
	}
	if !errors.Is(err, syscall.EEXIST) {
		l.log.log(ctx, slog.LevelInfo, eventInsertFailed, fmt.Sprintf("Failed to insert module '%s': %s", a.Path, errText(err)))
	}
	me := &ModuleError{Op: OpInsert, Module: a.Module, Path: a.Path, Err: err}
	if !errors.Is(err, syscall.EEXIST) {
		me.KernelLog = r.kernelLog(a.Module)
	}
	return me
}

// kernelLog returns the kernel log lines about module logged since the
// run began; all of them when module is "".
func (r *loadRun) kernelLog(module string) []string {
	if r.kmsg == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	msgs, _ := r.kmsg.ReadNew()
	var out []string
	for _, m := range msgs {
		if module == "" || strings.HasPrefix(m, module+": ") || strings.HasPrefix(m, "module "+module+": ") {
			out = append(out, m)
		}
	}
	return out
}

// parallel runs a probe list with its independent modules in parallel.
// A required module's failure stops new starts; the error reported is
// the one of the earliest failing action, as in a sequential run.
func (r *loadRun) parallel(ctx context.Context, pr *Probe) error {
	n := len(pr.Actions)
	done := make([]chan struct{}, len(pr.after))
	for i := range done {
		done[i] = make(chan struct{})
	}
	errs := make([]error, n)
	var stopMu sync.Mutex
	stopped := false
	var wg sync.WaitGroup
	for i := range pr.after {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			for _, j := range pr.after[i] {
				<-done[j]
			}
			if i >= n {
				return // a join node: done when what it joins is
			}
			stopMu.Lock()
			stop := stopped
			stopMu.Unlock()
			if stop {
				return
			}
			if err := ctx.Err(); err != nil {
				errs[i] = err
			} else {
				errs[i] = r.verdict(&pr.Actions[i], r.action(ctx, pr, &pr.Actions[i]))
			}
			if errs[i] != nil {
				stopMu.Lock()
				stopped = true
				stopMu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// isLive reports whether module is live in the kernel, logging an
// unreadable state as libkmod does.
func (l *Loader) isLive(module string) bool {
	st, err := kernel.ReadInitState(l.sysfs, module)
	if err != nil {
		event := eventInitRead
		if kernel.IsBadState(err) {
			event = eventInitstate
		}
		l.log.errorf(context.Background(), event, "%s", err.Error())
		return false
	}
	return st == kernel.Live
}

// logCommandError logs a failed install or remove command in libkmod's
// words.
func (l *Loader) logCommandError(ctx context.Context, err error, module string) {
	var ce *CommandError
	if !errors.As(err, &ce) || ctx.Err() != nil {
		// A command stopped by the cancellation did not fail: the caller
		// stopped it, and reports that (kmod's modprobe, killed by the
		// signal, says nothing).
		return
	}
	if ce.ExitCode < 0 {
		l.log.errorf(ctx, eventCommandRun, "Could not run %s command '%s' for module %s: %s", ce.Kind, ce.Command, module, errText(ce.Err))
		return
	}
	l.log.errorf(ctx, eventCommandExit, "Error running %s command '%s' for module %s: retcode %d", ce.Kind, ce.Command, module, ce.ExitCode)
}

// errText is strerror for an errno, or the error's text.
func errText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return kmodlog.Strerror(errno)
	}
	return err.Error()
}

// InsertFile inserts the one module file at path with the parameter
// string params, as insmod does: no dependencies, no configuration, no
// check of the module's state (the kernel answers EEXIST for a live
// module). Compressed files are handled as for Load. Only
// ForceVermagic and ForceModversion of opts apply. The error is a
// *ModuleError with Op "insert", wrapping the kernel's errno.
func (l *Loader) InsertFile(ctx context.Context, path, params string, opts LoadOptions) error {
	defer l.keepAlive()
	if l.closed.Load() {
		return moduleErr(OpInsert, path, path, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return moduleErr(OpInsert, path, path, err)
	}
	if err := l.checkDeniedFile(path); err != nil {
		l.log.errorf(ctx, eventDenied, "module %s is on the deny list: not inserting %s", err.(*ModuleError).Module, path)
		return err
	}
	run := l.newRun(LoadOptions{}, 1)
	defer run.close()
	err := l.insertFile(path, params, insertFlags{vermagic: opts.ForceVermagic, modversion: opts.ForceModversion}, nil)
	if err == nil {
		return nil
	}
	name := modname.FromPath(path)
	if !errors.Is(err, syscall.EEXIST) {
		l.log.log(ctx, slog.LevelInfo, eventInsertFailed, fmt.Sprintf("Failed to insert module '%s': %s", path, errText(err)))
	}
	// The kernel names the module as its image does, which the file
	// name need not tell: keep all it logged during the insert.
	return &ModuleError{Op: OpInsert, Module: name, Path: path, Err: err, KernelLog: run.kernelLog("")}
}
