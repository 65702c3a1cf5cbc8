package modprobe

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/gokmod/modprobe/internal/kernel"
)

// ActionKind says what one step of a plan does.
type ActionKind int

// Kinds of actions.
const (
	// ActionInsert inserts the module file at Path with Params.
	ActionInsert ActionKind = iota
	// ActionInstall runs the modprobe.d install command instead of
	// inserting the module; $CMDLINE_OPTS in it stands for Params.
	ActionInstall
	// ActionBuiltin marks a module built into the kernel: nothing to
	// insert.
	ActionBuiltin
	// ActionNoFile marks a module with neither a file nor a place in the
	// kernel, such as the target of an alias to a module that does not
	// exist. modprobe prints nothing for it and a load fails.
	ActionNoFile
	// ActionRemove removes the module from the kernel (a removal's step).
	ActionRemove
	// ActionRemoveCommand runs the modprobe.d remove command instead of
	// removing the module (a removal's step).
	ActionRemoveCommand
)

// String returns the word modprobe prints for the kind ("insmod",
// "install", "builtin", "rmmod", "remove"), "nofile" for ActionNoFile.
func (k ActionKind) String() string {
	switch k {
	case ActionInsert:
		return "insmod"
	case ActionInstall:
		return "install"
	case ActionBuiltin:
		return "builtin"
	case ActionNoFile:
		return "nofile"
	case ActionRemove:
		return "rmmod"
	case ActionRemoveCommand:
		return "remove"
	}
	return "ActionKind(" + strconv.Itoa(int(k)) + ")"
}

// Action is one step of a plan.
type Action struct {
	Kind   ActionKind
	Module string // normalized module name
	Path   string // module file, for ActionInsert
	// Params is the option string for the kernel (or for $CMDLINE_OPTS):
	// modprobe.d and kernel command line options, then the caller's
	// parameters for the requested module. When the configuration gives
	// options it ends with a space even without caller parameters, as in
	// kmod. An install command gets it with each of the caller's
	// parameters quoted for the shell, unless LoadOptions.RawCmdlineOpts.
	Params string
	// Command is the install command as configured, for ActionInstall.
	Command string
	// Requested marks the module the probe is for; only it gets the
	// caller's parameters, and only it fails a first-time load.
	Requested bool
	// Required marks the requested module and its modules.dep
	// dependencies: their failure stops the probe. Failures of modules
	// pulled in only as softdeps are ignored.
	Required bool
	// Loaded reports that the module was live or builtin when the plan
	// was made (never set with PlanOptions.IgnoreLoaded); a load skips it.
	Loaded bool
	// Denied reports that the module is on the Loader's deny list
	// (Options.Deny): a load stops at the first Required action so
	// marked, before inserting anything, and skips a softdep so marked.
	Denied bool
}

// String returns the line modprobe prints for the action, without a
// newline: "insmod PATH PARAMS", "install COMMAND PARAMS", "builtin
// NAME", "rmmod NAME" or "remove COMMAND"; it is empty for ActionNoFile.
func (a Action) String() string {
	switch a.Kind {
	case ActionInsert:
		return "insmod " + a.Path + " " + a.Params
	case ActionInstall:
		return "install " + a.Command + " " + a.Params
	case ActionBuiltin:
		return "builtin " + a.Module
	case ActionRemove:
		return "rmmod " + a.Module
	case ActionRemoveCommand:
		return "remove " + a.Command
	}
	return ""
}

// Skip says why a probe does nothing.
type Skip int

// Reasons to skip a probe.
const (
	// SkipNone: the probe runs its actions.
	SkipNone Skip = iota
	// SkipLoaded: the module is already live or builtin. A load succeeds
	// without doing anything, unless it is a first-time load.
	SkipLoaded
	// SkipBlacklisted: the module was reached through an alias (or
	// PlanOptions.UseBlacklist is set) and is blacklisted. A load
	// succeeds without doing anything.
	SkipBlacklisted
)

// Probe is the plan for one module a name resolved to.
type Probe struct {
	Module  Module
	Skip    Skip
	Actions []Action

	// after[i] lists the nodes node i waits for in a parallel load: the
	// actions, then join nodes (done when what they wait for is); nil
	// when the plan was not made for one.
	after [][]int
	// caller holds the caller's parameters of a probe made by Plan, for
	// install commands; nil without any, or in a Probe made by hand.
	// reqParams is the Params Plan gave the requested module's action,
	// which tells a Params changed by hand; planned marks a Probe made by
	// Plan.
	caller    *callerParams
	reqParams string
	planned   bool
}

// callerParams are the caller's parameters of a plan, as given and
// joined for the kernel (Plan.Params); option reports one that starts
// with '-', which no quoting keeps from being an option to a command.
type callerParams struct {
	params []string
	joined string
	option bool
}

// maxCommandLen returns the longest command line /bin/sh -c can be
// given: the kernel refuses a single argument of MAX_ARG_STRLEN (32
// pages) or more bytes, its NUL included, with E2BIG.
func maxCommandLen() int { return 32*os.Getpagesize() - 1 }

// installCommand returns a's install command with $CMDLINE_OPTS
// replaced. With raw the replacement is a.Params, as kmod substitutes it,
// for the shell to read: an administrator's own command line. Otherwise
// the caller's parameters in it, which only the requested module gets,
// are quoted for the shell, each as one word; the configuration's
// options stay as they are; and a command longer than a shell can be
// given is refused (ErrBadParams wrapping E2BIG) before it is built. When
// a.Params is not what Plan made of them (a Probe made or changed by
// hand), the whole of it is one quoted word, and refused (ErrBadParams)
// when it starts with '-', which no quoting keeps from being an option.
func (pr *Probe) installCommand(a *Action, raw bool) (string, error) {
	c := pr.caller
	var opts string
	switch {
	case raw || !a.Requested:
		opts = a.Params
	case !pr.planned || a.Params != pr.reqParams:
		if strings.HasPrefix(a.Params, "-") {
			return "", fmt.Errorf("%w: %q for install command '%s' starts with '-'", ErrBadParams, a.Params, a.Command)
		}
		if len(a.Params) > maxCommandLen() {
			return "", fmt.Errorf("%w: %w: %d bytes of parameters for install command '%s', more than the %d bytes a command can take",
				ErrBadParams, syscall.E2BIG, len(a.Params), a.Command, maxCommandLen())
		}
		opts = shellQuote(a.Params)
	case c == nil: // no parameters of the caller's
		opts = a.Params
	default:
		prefix := a.Params[:len(a.Params)-len(c.joined)]
		n := paramsLen(prefix, c.params, true)
		if refs := strings.Count(a.Command, cmdlineOpts); len(a.Command)+refs*(n-len(cmdlineOpts)) > maxCommandLen() {
			return "", fmt.Errorf("%w: %w: with its parameters quoted for the shell (%d bytes), install command '%s' is longer than the %d bytes a command can take",
				ErrBadParams, syscall.E2BIG, n, a.Command, maxCommandLen())
		}
		opts = buildParams(prefix, c.params, true, n)
	}
	return expandCmdlineOpts(a.Command, opts), nil
}

// Plan is what loading a name would do: one probe per module the name
// resolves to, in kmod's order. modprobe runs every probe, even after one
// fails.
type Plan struct {
	Name   string // the name as requested
	Params string // the caller's parameters joined as modprobe joins them
	Probes []Probe
}

// PlanOptions adjust a plan like the matching modprobe flags.
type PlanOptions struct {
	// IgnoreLoaded plans as if no module were loaded and does not read
	// sysfs (--show-depends).
	IgnoreLoaded bool
	// IgnoreCommands ignores the install command and the softdeps of the
	// requested module (-i, --ignore-install).
	IgnoreCommands bool
	// UseBlacklist applies the blacklist to the requested module even
	// when it was asked for by name (-b, --use-blacklist).
	UseBlacklist bool
	// DeferStateChecks is for a plan that is to be run with LoadProbe:
	// whether each module the probe would load is already loaded is left
	// for LoadProbe to find out when it reaches the module (as modprobe
	// does), instead of being read now as well, so that each module's
	// state is read, and a bad one logged, once. Action.Loaded stays
	// false, so a dry run of such a plan shows every action. The
	// requested module's state is still checked (SkipLoaded).
	DeferStateChecks bool
}

// Plan computes what modprobe would do to load name with the given module
// parameters (each "key=value"; see JoinParams), without side effects.
// It returns a *ModuleError wrapping ErrNotFound when nothing matches, or
// the context's error when ctx is done.
func (l *Loader) Plan(ctx context.Context, name string, params []string, opts PlanOptions) (*Plan, error) {
	defer l.keepAlive()
	return l.plan(ctx, name, params, opts, false)
}

// plan is Plan; with schedule, each probe also gets the constraints of a
// parallel load.
func (l *Loader) plan(ctx context.Context, name string, params []string, opts PlanOptions, schedule bool) (*Plan, error) {
	p, mods, err := l.resolve(ctx, OpPlan, name)
	if err != nil {
		return nil, err
	}
	return l.planModules(ctx, p, mods, name, params, opts, schedule)
}

// planModules plans the probes of the modules a request for name found.
func (l *Loader) planModules(ctx context.Context, p *pool, mods []*module, name string, params []string, opts PlanOptions, schedule bool) (*Plan, error) {
	plan := &Plan{Name: name, Params: JoinParams(params)}
	var caller *callerParams
	if len(params) > 0 {
		caller = &callerParams{
			params: params,
			joined: plan.Params,
			option: slices.ContainsFunc(params, func(p string) bool { return strings.HasPrefix(p, "-") }),
		}
	}
	p.keep(mods)
	for _, mod := range mods {
		if err := ctx.Err(); err != nil {
			return nil, moduleErr(OpPlan, name, "", err)
		}
		pr := p.planProbe(mod, plan.Params, opts, schedule)
		pr.caller, pr.planned = caller, true
		for _, a := range pr.Actions {
			if a.Requested {
				pr.reqParams = a.Params
			}
		}
		plan.Probes = append(plan.Probes, pr)
		p.release()
	}
	return plan, nil
}

func (p *pool) planProbe(mod *module, extra string, opts PlanOptions, schedule bool) Probe {
	pr := Probe{Module: p.public(mod)}
	if !opts.IgnoreLoaded && p.inKernel(mod) {
		pr.Skip = SkipLoaded
		return pr
	}
	if (mod.hasAlias || opts.UseBlacklist) && p.l.conf.black[mod.name] {
		pr.Skip = SkipBlacklisted
		return pr
	}
	b := p.probeList(mod, opts.IgnoreCommands, schedule)
	pr.Actions = make([]Action, 0, len(b.list))
	for _, m := range b.list {
		a := Action{Module: m.name, Requested: m == mod, Required: m.required == p.gen}
		x := ""
		if a.Requested {
			x = extra
		}
		a.Params = optionString(p.configOptions(m), x)
		a.Denied = p.l.denied(m.name)
		if !opts.IgnoreLoaded && !opts.DeferStateChecks {
			a.Loaded = p.inKernel(m)
		}
		if cmd, ok := p.installCommand(m); ok && !m.ignorecmd {
			a.Kind, a.Command = ActionInstall, cmd
		} else if a.Path = p.pathOf(m); a.Path != "" {
			a.Kind = ActionInsert
		} else if p.isBuiltin(m) {
			a.Kind = ActionBuiltin
		} else {
			a.Kind = ActionNoFile
		}
		pr.Actions = append(pr.Actions, a)
	}
	if schedule {
		cmd := make([]bool, len(pr.Actions))
		for i, a := range pr.Actions {
			cmd[i] = a.Kind == ActionInstall
		}
		pr.after = p.schedule(b, cmd)
	}
	return pr
}

// inKernel reports whether m is builtin or live, as libkmod's
// module_is_inkernel does.
func (p *pool) inKernel(m *module) bool {
	if p.isBuiltin(m) {
		return true
	}
	st, err := kernel.ReadInitState(p.l.sysfs, m.name)
	if err != nil {
		event := eventInitRead
		if kernel.IsBadState(err) {
			event = eventInitstate
		}
		p.errorf(event, "%s", err.Error())
		return false
	}
	return st == kernel.Live
}

// DryRunOptions adjust a dry run like the matching modprobe flags.
type DryRunOptions struct {
	// FirstTime fails the run when the requested module is already
	// loaded (--first-time).
	FirstTime bool
}

// DryRun walks the probe as a load would without touching the kernel: it
// calls show for each action a load would take, skipping modules that
// were loaded when the plan was made. With FirstTime it returns a
// *ModuleError wrapping ErrAlreadyLoaded when the requested module is
// already loaded, as modprobe --first-time does. Like a load, it stops
// with ErrDenied, showing nothing, at a required action marked Denied,
// and leaves out softdeps so marked.
func (pr *Probe) DryRun(opts DryRunOptions, show func(Action)) error {
	switch pr.Skip {
	case SkipLoaded:
		if opts.FirstTime {
			return alreadyLoaded(pr.Module.Name)
		}
		return nil
	case SkipBlacklisted:
		return nil
	}
	for _, a := range pr.Actions {
		if a.Denied && a.Required && !a.Loaded && (a.Kind == ActionInsert || a.Kind == ActionInstall) {
			return deniedErr(a.Module, a.Path, pr.Module.Name)
		}
	}
	for _, a := range pr.Actions {
		if a.Denied && !a.Loaded && (a.Kind == ActionInsert || a.Kind == ActionInstall) {
			continue // a softdep a load leaves out
		}
		if a.Loaded {
			if a.Requested && opts.FirstTime {
				return alreadyLoaded(a.Module)
			}
			continue
		}
		if show != nil {
			show(a)
		}
	}
	return nil
}
