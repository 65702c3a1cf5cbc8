package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/cli"
	"github.com/gokmod/modprobe/internal/elfmod"
	"github.com/gokmod/modprobe/internal/getopt"
	"github.com/gokmod/modprobe/internal/kernel"
	"github.com/gokmod/modprobe/internal/kmodlog"
	"github.com/gokmod/modprobe/internal/modprobeopt"
)

// modprobeCmd holds one run of modprobe: its flags and output.
type modprobeCmd struct {
	env   *env
	argv0 string
	out   *outWriter
	log   *toolLog

	verbose        int
	logPriority    int // the priority of the tool's LOG(): FATAL, or WARNING with -a
	doShow         bool
	dryRun         bool
	ignoreLoaded   bool
	lookupOnly     bool
	firstTime      bool
	ignoreCommands bool
	useBlacklist   bool
	force          bool
	stripModvers   bool
	stripVermagic  bool
	removeHolders  bool
	waitMsec       uint64
	useSyslog      bool
	compat         modprobe.Compat
}

// compatFromEnv reads GOKMOD_COMPAT: unset or empty, "kmod34" or
// "latest" follow kmod 34.2 (the newest released kmod gokmod follows), and
// "kmod30" kmod 30, the release of Debian 12. Any c other than
// modprobe.CompatKmod30 means kmod 34 behaviour.
func compatFromEnv(e *env) (modprobe.Compat, error) {
	switch v, _ := e.Getenv("GOKMOD_COMPAT"); v {
	case "", "latest", "kmod34":
		return modprobe.CompatKmod34, nil
	case "kmod30":
		return modprobe.CompatKmod30, nil
	default:
		return 0, fmt.Errorf("unknown GOKMOD_COMPAT value '%s' (want kmod34, kmod30 or latest)", v)
	}
}

func runModprobe(e *env, argv0 string, args []string) int {
	return newModprobeCmd(e, argv0).run(func(m *modprobeCmd) int {
		compat, err := compatFromEnv(e)
		if err != nil {
			m.log.printf(logErr, "%v\n", err)
			return 1
		}
		m.compat = compat
		m.log.setCompat(compat)
		if m.main(args) < 0 {
			return 1
		}
		return 0
	})
}

// newModprobeCmd returns a modprobe run with kmod's defaults, printing as
// modprobe.
func newModprobeCmd(e *env, argv0 string) *modprobeCmd {
	m := &modprobeCmd{env: e, argv0: argv0, verbose: logWarning, logPriority: logCrit}
	m.out = &outWriter{Writer: bufio.NewWriterSize(e.Stdout, 4096), line: e.StdoutTTY}
	m.log = newToolLog("modprobe", e.Stderr)
	return m
}

// run calls fn and returns its exit status, or the status of a message
// that ended the tool (kmod's fatal messages exit); output is flushed and
// syslog closed either way.
func (m *modprobeCmd) run(fn func(*modprobeCmd) int) (status int) {
	defer func() {
		m.out.Flush()
		m.log.close()
		if r := recover(); r != nil {
			code, ok := r.(exitNow)
			if !ok {
				panic(r)
			}
			status = int(code)
		}
	}()
	return fn(m)
}

// LOG is modprobe's LOG(): fatal, or a warning with -a.
func (m *modprobeCmd) LOG(format string, args ...any) {
	m.log.printf(m.logPriority, format, args...)
}

// appendOptionsEnv appends to MODPROBE_OPTIONS, for install commands.
func (m *modprobeCmd) appendOptionsEnv(value string) {
	if old, ok := m.env.Getenv("MODPROBE_OPTIONS"); ok {
		value = old + " " + value
	}
	m.env.Setenv("MODPROBE_OPTIONS", value)
}

func (m *modprobeCmd) main(args []string) int {
	if v, ok := m.env.Getenv("MODPROBE_OPTIONS"); ok {
		args = append(splitModprobeOptions(v), args...)
	}
	var configPaths []string
	var root, kversion string
	var rootSet, kversionSet bool
	var useAll, doRemove, showConfig, showModversions, showExports bool

	p := getopt.New(m.argv0, args, modprobeopt.Short, modprobeopt.Long(), m.env.Stderr).WithEnv(m.env.Getenv)
	for c, arg := range p.Options() {
		switch c {
		case 'a':
			m.logPriority = logWarning
			useAll = true
		case 'r':
			doRemove = true
		case modprobeopt.RemoveHolders:
			m.removeHolders = true
		case 'w':
			v, err := parseULong(arg)
			if err != nil {
				m.log.printf(logErr, "unexpected wait value '%s'.\n", arg)
				return -1
			}
			m.waitMsec = v
		case modprobeopt.FirstTime:
			m.firstTime = true
		case 'i':
			m.ignoreCommands = true
		case 'b':
			m.useBlacklist = true
		case 'f':
			m.force = true
		case modprobeopt.ForceModversion:
			m.stripModvers = true
		case modprobeopt.ForceVermagic:
			m.stripVermagic = true
		case 'D':
			m.ignoreLoaded, m.dryRun, m.doShow = true, true, true
		case 'R':
			m.lookupOnly = true
		case 'c':
			showConfig = true
		case modprobeopt.ShowModversions:
			showModversions = true
		case modprobeopt.ShowExports:
			showExports = true
		case 'n':
			m.dryRun = true
		case 'C':
			configPaths = append(configPaths, arg)
			m.appendOptionsEnv("-C")
			m.appendOptionsEnv(arg)
		case 'd':
			root, rootSet = arg, true
		case 'S':
			kversion, kversionSet = arg, true
		case 's':
			m.appendOptionsEnv("-s")
			m.useSyslog = true
		case 'q':
			m.appendOptionsEnv("-q")
			m.verbose = logEmerg
		case 'v':
			m.appendOptionsEnv("-v")
			m.verbose++
		case 'V':
			// kmod's first line, which scripts parse, then the features.
			io.WriteString(m.out, versionText(m.compat))
			return 0
		case 'h':
			m.help()
			return 0
		case '?':
			return -1
		default:
			m.log.printf(logErr, "unexpected getopt_long() value '%c'.\n", rune(c))
			return -1
		}
	}
	operands := p.Operands()
	// kmod 31 and later log to syslog when there is no stderr to write to.
	if m.useSyslog || (m.compat != modprobe.CompatKmod30 && m.env.NoStderr) {
		m.log.openSyslog()
	}

	if !showConfig && len(operands) == 0 {
		m.log.printf(logErr, "missing parameters. See -h.\n")
		return -1
	}

	opts := modprobe.Options{ConfigPaths: configPaths}
	switch {
	case m.compat != modprobe.CompatKmod30 && (kversionSet || rootSet):
		// kmod 34 refuses a module directory longer than PATH_MAX-1
		// where kmod 30 cut it.
		if !kversionSet {
			rel, err := releaseOf(m.env)
			if err != nil {
				m.log.printf(logErr, "uname() failed: %v\n", err)
				return -1
			}
			kversion = rel
		}
		opts.ModuleDir = root + "/lib/modules/" + kversion
		if len(opts.ModuleDir) > 4095 {
			m.log.printf(logErr, "bad directory %s: path too long\n", opts.ModuleDir)
			return -1
		}
	case kversionSet:
		// modprobe builds the path in a PATH_MAX buffer.
		opts.ModuleDir = root + "/lib/modules/" + kversion
		if len(opts.ModuleDir) > 4095 {
			opts.ModuleDir = opts.ModuleDir[:4095]
		}
	case rootSet:
		opts.RootDir = root
	}
	l, err := m.openLoader(opts)
	if err != nil {
		if cli.OwnError(err) {
			m.log.printf(logErr, "%v\n", err)
		}
		m.log.printf(logErr, "kmod_new() failed!\n")
		return -1
	}
	// The Loader is not closed: the process ends right after, and leaving
	// the unmapping of the indexes to the kernel saves a few syscalls.

	switch {
	case showConfig:
		if err := l.WriteConfig(m.env.Context(), m.out); err != nil {
			m.log.printf(logErr, "%v\n", err)
			return -1
		}
		return 0
	case showModversions:
		return m.showSymbols(operands[0], "modversions", (*elfmod.Module).Versions)
	case showExports:
		return m.showSymbols(operands[0], "symbols", (*elfmod.Module).Exports)
	case doRemove:
		return m.removeAll(l, operands)
	case useAll:
		if jobs := m.jobs(); jobs > 1 && !m.dryRun && !m.lookupOnly && !slices.ContainsFunc(operands, m.isModulePath) {
			return m.insmodParallel(l, operands, jobs)
		}
		if !m.dryRun {
			m.env.LoadsOneAtATime()
		}
		err := 0
		for _, name := range operands {
			if m.env.Interrupted() != nil {
				return errStopped // a signal: no name after the one in flight
			}
			if r := m.insmod(l, name, nil); r < 0 {
				err = r
			}
		}
		return err
	default:
		if !m.dryRun {
			m.env.LoadsOneAtATime()
		}
		return m.insmod(l, operands[0], operands[1:])
	}
}

// showSymbols is --show-modversions and --show-exports: the symbols of
// the module file at path, as "0xCRC\tNAME" lines. kmod 30 takes a path
// only.
func (m *modprobeCmd) showSymbols(path, what string, get func(*elfmod.Module) ([]elfmod.Symbol, error)) int {
	if _, err := os.Stat(path); err != nil {
		m.LOG("Module %s not found.\n", path)
		return -int(errnoOf(err))
	}
	syms, err := func() ([]elfmod.Symbol, error) {
		image, err := modprobe.ReadModuleFile(path, 0)
		if err != nil {
			return nil, err
		}
		mod, err := elfmod.Parse(image)
		if err != nil {
			return nil, err
		}
		return get(mod)
	}()
	if err != nil {
		errno := elfErrno(m.compat, err)
		m.LOG("could not get %s of %s: %s\n", what, path, kmodlog.Strerror(errno))
		return -int(errno)
	}
	for _, s := range syms {
		fmt.Fprintf(m.out, "0x%08x\t%s\n", s.CRC, s.Name)
	}
	return 0
}

// elfErrno is libkmod's errno for a failure to read a module's ELF: the
// system's own, for a missing section ENOENT in kmod 30 and ENODATA from
// kmod 31 on, ENOEXEC for a bad image.
func elfErrno(c modprobe.Compat, err error) syscall.Errno {
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		return errno
	case errors.Is(err, elfmod.ErrNoSection) && c == modprobe.CompatKmod30:
		return syscall.ENOENT
	case errors.Is(err, elfmod.ErrNoSection):
		return kernel.ENODATA
	case errors.Is(err, modprobe.ErrTooLarge):
		return syscall.EFBIG // over MaxModuleSize: read no further
	}
	return syscall.ENOEXEC
}

// parseULong is strtoul(s, &end, 0) with kmod's check that all of s was
// used.
func parseULong(s string) (uint64, error) {
	if s == "" {
		return 0, strconv.ErrSyntax
	}
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if strings.HasPrefix(t, "-") || strings.HasPrefix(t, "+") {
		neg = t[0] == '-'
		t = t[1:]
	}
	v, err := strconv.ParseUint(t, 0, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return ^uint64(0), nil
		}
		return 0, err
	}
	if neg {
		v = -v
	}
	return v, nil
}

// insmod is modprobe's insmod(): resolve name and probe every module it
// stands for. It returns a negative errno on failure.
func (m *modprobeCmd) insmod(l *modprobe.Loader, name string, params []string) int {
	// Lookups and plans change nothing: a signal during them may end the
	// process at once (LookupContext). Loads watch the signals.
	ctx := m.env.LookupContext()
	path := m.isModulePath(name)
	if m.lookupOnly {
		var mods []modprobe.Module
		var err error
		if path {
			var mod modprobe.Module
			mod, err = l.LookupFile(ctx, name)
			mods = []modprobe.Module{mod}
		} else {
			mods, err = l.Lookup(ctx, name)
		}
		if m.env.CancelledBy(err) {
			return errStopped
		}
		if err != nil {
			return m.notFound(l, name, path, err)
		}
		for _, mod := range mods {
			fmt.Fprintf(m.out, "%s\n", mod.Name)
		}
		return 0
	}
	opts := modprobe.PlanOptions{
		IgnoreLoaded:   m.ignoreLoaded,
		IgnoreCommands: m.ignoreCommands,
		UseBlacklist:   m.useBlacklist,
		// A real run reads each module's state when it reaches it.
		DeferStateChecks: !m.dryRun,
	}
	var plan *modprobe.Plan
	var err error
	if path {
		plan, err = l.PlanFile(ctx, name, params, opts)
	} else {
		plan, err = l.Plan(ctx, name, params, opts)
	}
	if m.env.CancelledBy(err) {
		return errStopped
	}
	if err != nil {
		return m.notFound(l, name, path, err)
	}
	rc := 0
	for i := range plan.Probes {
		if m.env.Interrupted() != nil {
			return errStopped
		}
		pr := &plan.Probes[i]
		var err error
		rc, err = m.probe(l, pr)
		if rc >= 0 {
			rc = 0
			continue
		}
		if rc != errStopped {
			// LoadProbe's error is the failing step's: kmod names the
			// probed module, as LoadWith's error does.
			m.printInsertError(&modprobe.ModuleError{Op: modprobe.OpLoad, Module: pr.Module.Name, Err: err})
		}
	}
	return rc
}

// isModulePath reports whether modprobe takes name for a module file: from
// kmod 31 on, a name that starts with "/" or "./" is one.
func (m *modprobeCmd) isModulePath(name string) bool {
	return m.compat != modprobe.CompatKmod30 && (strings.HasPrefix(name, "/") || strings.HasPrefix(name, "./"))
}

// notFound prints what modprobe says when name (a module file if path)
// could not be resolved, and returns -ENOENT.
func (m *modprobeCmd) notFound(l *modprobe.Loader, name string, path bool, err error) int {
	if path {
		m.LOG("Failed to get module from path %s: %s\n", name, kmodlog.Strerror(errnoOf(err)))
	} else {
		m.LOG("Module %s not found in directory %s\n", name, l.ModuleDir())
	}
	return -int(syscall.ENOENT)
}

// errStopped is the result of a step a signal stopped (see signals.go):
// modprobe reports nothing for it and ends by the signal. It lies outside
// the range of negative errnos, so that a kernel's EINTR is still
// reported.
const errStopped = -1 << 20

// printInsertError prints modprobe's message for a failed probe.
func (m *modprobeCmd) printInsertError(err error) {
	for _, msg := range modprobe.KmodMessages(err) {
		m.log.printf(logErr, "%s\n", msg)
	}
}

// jobs reads GOKMOD_JOBS, gokmod's own: with -a, load up to that many
// independent modules at once. Unset, or 1, is kmod's sequential order.
func (m *modprobeCmd) jobs() int {
	v, ok := m.env.Getenv("GOKMOD_JOBS")
	if !ok {
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// insmodParallel is modprobe -a with GOKMOD_JOBS: the names load in
// parallel, then each failure is reported as modprobe reports it.
func (m *modprobeCmd) insmodParallel(l *modprobe.Loader, names []string, jobs int) int {
	err := l.LoadAllWith(m.env.Context(), names, modprobe.LoadOptions{
		FirstTime:       m.firstTime,
		IgnoreCommands:  m.ignoreCommands,
		UseBlacklist:    m.useBlacklist,
		ForceVermagic:   m.stripVermagic || m.force,
		ForceModversion: m.stripModvers || m.force,
		Jobs:            jobs,
		Show:            m.showAction,
		// The administrator's own command line: kmod's substitution.
		RawCmdlineOpts: true,
	})
	return m.reportLoad(l, err)
}

// reportLoad prints modprobe's message for each failure in err, an error
// from a Loader's load (joined for several modules), and returns kmod's
// result: 0, or the negative errno of the last failure.
func (m *modprobeCmd) reportLoad(l *modprobe.Loader, err error) int {
	rc := 0
	if err == nil {
		return rc
	}
	for _, e := range unjoin(err) {
		if m.env.CancelledBy(e) {
			rc = errStopped // a signal stopped it: kmod would say nothing
			continue
		}
		var me *modprobe.ModuleError
		switch {
		case errors.Is(e, modprobe.ErrNotFound) || errors.Is(e, modprobe.ErrBadName):
			if errors.As(e, &me) {
				m.LOG("Module %s not found in directory %s\n", me.Module, l.ModuleDir())
			}
			rc = -int(syscall.ENOENT)
		case errors.As(e, &me):
			m.printInsertError(e)
			rc = errnoResult(e)
		default:
			m.log.printf(logErr, "%v\n", e)
			rc = -int(syscall.EINVAL)
		}
	}
	return rc
}

// unjoin flattens errors.Join's tree.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// outWriter is stdout as the C library buffers it: fully, or by line for
// a terminal.
type outWriter struct {
	*bufio.Writer
	line bool
}

func (w *outWriter) Write(p []byte) (int, error) {
	n, err := w.Writer.Write(p)
	if err == nil && w.line && bytes.IndexByte(p, '\n') >= 0 {
		err = w.Flush()
	}
	return n, err
}

// showAction prints an action as modprobe's print_action does: with -D
// or -v (and, in kmod 30 and 34.2 alike, not for -n alone).
func (m *modprobeCmd) showAction(a modprobe.Action) {
	if !m.doShow && m.verbose <= logWarning {
		return
	}
	if s := a.String(); s != "" {
		fmt.Fprintf(m.out, "%s\n", s)
	}
	// A removal's lines come from modprobe's SHOW, which flushes stdout
	// after each: "remove CMD" reaches the pipe before the command's own
	// output. A load's come from print_action's plain printf.
	if a.Kind == modprobe.ActionRemove || a.Kind == modprobe.ActionRemoveCommand {
		m.out.Flush()
	}
}

// probe runs one probe of a plan, or walks it for a dry run. It returns
// kmod's result (0, or a negative errno) and the error to report.
func (m *modprobeCmd) probe(l *modprobe.Loader, pr *modprobe.Probe) (int, error) {
	if m.dryRun {
		err := pr.DryRun(modprobe.DryRunOptions{FirstTime: m.firstTime}, m.showAction)
		var me *modprobe.ModuleError
		switch {
		case err == nil:
		case errors.Is(err, modprobe.ErrDenied) && errors.As(err, &me):
			// As a load logs it (the Loader's module-denied record).
			m.log.printf(logErr, "module %s is on the deny list: not loading %s\n", me.Module, pr.Module.Name)
			return -int(syscall.EPERM), err
		default:
			return -int(syscall.EEXIST), err
		}
		return 0, nil
	}
	err := l.LoadProbe(m.env.Context(), pr, modprobe.LoadOptions{
		FirstTime:       m.firstTime,
		ForceVermagic:   m.stripVermagic || m.force,
		ForceModversion: m.stripModvers || m.force,
		Show:            m.showAction,
		// The administrator's own command line: kmod's substitution.
		RawCmdlineOpts: true,
	})
	if m.env.CancelledBy(err) {
		return errStopped, err
	}
	return errnoResult(err), err
}

// errnoResult maps a load or removal error to kmod's negative errno.
func errnoResult(err error) int {
	if err == nil {
		return 0
	}
	return -int(modprobe.KmodErrno(err))
}

// removeAll is modprobe -r: each name is removed in turn. kmod's fatal
// messages end the run, unless -a made them warnings.
func (m *modprobeCmd) removeAll(l *modprobe.Loader, names []string) int {
	rc := 0
	for _, name := range names {
		if m.env.Interrupted() != nil {
			return errStopped // a signal: no name after the one in flight
		}
		err := l.RemoveWith(m.env.Context(), []string{name}, modprobe.RemoveOptions{
			IgnoreCommands: m.ignoreCommands,
			RemoveHolders:  m.removeHolders,
			Wait:           time.Duration(min(m.waitMsec, uint64(math.MaxInt64/int64(time.Millisecond)))) * time.Millisecond,
			FirstTime:      m.firstTime,
			Force:          m.force,
			DryRun:         m.dryRun,
			Show:           m.showAction,
			Report:         func(err error) { m.reportRemove(name, err) },
		})
		if err == nil {
			continue
		}
		if m.waitMsec > 0 && errors.Is(err, modprobe.ErrInUse) && errors.Is(err, syscall.EAGAIN) {
			continue // kmod 30 and 34.2 end a --wait that timed out successfully
		}
		rc = errnoResult(err)
	}
	return rc
}

// reportRemove prints what kmod prints when a removal step fails; LOG is
// fatal without -a.
func (m *modprobeCmd) reportRemove(name string, err error) {
	if m.env.CancelledBy(err) {
		return // a signal stopped it: kmod would say nothing
	}
	var me *modprobe.ModuleError
	mod := name
	if errors.As(err, &me) {
		mod = me.Module
	}
	switch {
	case errors.Is(err, modprobe.ErrNotFound), errors.Is(err, modprobe.ErrBadName):
		m.LOG("Module %s not found.\n", name)
	case errors.Is(err, modprobe.ErrBuiltin):
		m.LOG("Module %s is builtin.\n", mod)
	case errors.Is(err, modprobe.ErrNotLoaded):
		m.LOG("Module %s is not in kernel.\n", mod)
	case errors.Is(err, modprobe.ErrCommandFailed):
		m.LOG("Error running remove command for %s\n", mod)
	case me != nil && me.Op == modprobe.OpRemove && errors.Is(err, modprobe.ErrInUse):
		m.LOG("Module %s is in use.\n", mod)
	case me != nil && me.Op == modprobe.OpDelete && m.waitMsec > 0:
		if errors.Is(err, syscall.EAGAIN) {
			return // a --wait that timed out: kmod 30 and 34.2 say nothing
		}
		var errno syscall.Errno
		if errors.As(err, &errno) {
			m.log.printf(logErr, "could not remove '%s': %s\n", mod, kmodlog.Strerror(errno))
		}
	}
}

func (m *modprobeCmd) help() {
	p := "modprobe"
	fmt.Fprintf(m.out, `Usage:
	%[1]s [options] [-i] [-b] modulename
	%[1]s [options] -a [-i] [-b] modulename [modulename...]
	%[1]s [options] -r [-i] modulename
	%[1]s [options] -r -a [-i] modulename [modulename...]
	%[1]s [options] -c
	%[1]s [options] --dump-modversions filename
Management Options:
	-a, --all                   Treat every argument as a module to insert
	                            (or to remove with -r)
	-r, --remove                Remove modules rather than insert them
	    --remove-dependencies   Deprecated name of --remove-holders
	    --remove-holders        Remove the modules holding it too (with -r)
	-w, --wait <MSEC>           With -r, wait up to MSEC for the module's
	                            use count to drop to 0
	    --first-time            Fail if the module is already inserted or
	                            already removed
	-i, --ignore-install        Ignore install commands
	-i, --ignore-remove         Ignore remove commands
	-b, --use-blacklist         Apply the blacklist to the requested name too
	-f, --force                 Force insertion or removal; implies
	                            --force-modversion and --force-vermagic
	    --force-modversion      Ignore the module's symbol versions
	    --force-vermagic        Ignore the module's version magic

Query Options:
	-R, --resolve-alias         Print the modules a name resolves to and exit
	-D, --show-depends          Print what loading would do and exit
	-c, --showconfig            Print the configuration and exit
	-c, --show-config           Same as --showconfig
	    --show-modversions      Print the module's symbol versions and exit
	    --dump-modversions      Same as --show-modversions
	    --show-exports          Print the module's exported symbols and exit

General Options:
	-n, --dry-run               Do nothing, only print what would be done
	-n, --show                  Same as --dry-run
	-C, --config=FILE           Read FILE instead of the default directories
	-d, --dirname=DIR           Use DIR as the root for /lib/modules
	-S, --set-version=VERSION   Use VERSION instead of uname -r
	-s, --syslog                Log to syslog instead of stderr
	-q, --quiet                 Print no messages
	-v, --verbose               Print more messages
	-V, --version               Print the version
	-h, --help                  Print this help
`, p)
}

// openLoader opens the Loader of the command with o (its module
// directory and configuration), logging through the command's log in the
// command's compatibility mode, and then sets libkmod's log priority as
// kmod does once its context exists.
func (m *modprobeCmd) openLoader(o modprobe.Options) (*modprobe.Loader, error) {
	o.Logger = slog.New(slogHandler{m.log})
	o.Compat = m.compat
	l, err := m.env.OpenLoader(o)
	if err != nil {
		return nil, err
	}
	m.log.setupKmodLog(m.verbose)
	return l, nil
}
