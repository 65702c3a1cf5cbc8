package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/getopt"
	"github.com/gokmod/modprobe/isula"
	"github.com/gokmod/modprobe/kata"

	"github.com/gokmod/modprobe/internal/cli"
)

// The adapters' long options without a short form.
const (
	optConfig = 1 + iota
	optAnnotation
	optAnnotationMode
	optState
)

// adapterCmd is what gokmod kata and gokmod oci-hook share: the options
// of the loads they run, and a modprobe run that prints kmod's messages
// for them.
type adapterCmd struct {
	m    *modprobeCmd
	root string // -d: the root for /lib/modules
	// deny is --deny: modules no request may load (modprobe.Options.Deny),
	// from the host's command line, with GOKMOD_DENY's.
	deny []string
	// show prints the requests and loads nothing (-n).
	show bool
}

// adapterLong returns the options every adapter takes.
func adapterLong() []getopt.Option {
	return []getopt.Option{
		{Name: "dry-run", Val: 'n'},
		{Name: "dirname", HasArg: getopt.RequiredArgument, Val: 'd'},
		{Name: "quiet", Val: 'q'},
		{Name: "verbose", Val: 'v'},
		{Name: "help", Val: 'h'},
		{Name: "deny", HasArg: getopt.RequiredArgument, Val: optDeny},
	}
}

// optDeny is --deny's getopt value.
const optDeny = 2000

// option handles an option every adapter takes; it reports false for
// others.
func (a *adapterCmd) option(c int, arg string) bool {
	switch c {
	case 'n':
		a.show = true
	case 'd':
		a.root = arg
	case 'q':
		a.m.verbose = logEmerg
	case 'v':
		a.m.verbose++
	case optDeny:
		a.deny = append(a.deny, modprobe.SplitDenyList(arg)...)
	default:
		return false
	}
	return true
}

// parse reads an adapter's command line: the options every adapter takes,
// -h (printing usage, a format naming the tool), and the command's extra
// options, which own handles (false for one it does not know; an error
// is printed). It returns false, with the exit status, when the command
// ends there.
func (a *adapterCmd) parse(argv0 string, args []string, tool, usage string, extra []getopt.Option, own func(c int, arg string) (bool, error)) (status int, ok bool) {
	stderr := a.m.env.Stderr
	p := getopt.New(argv0, args, "nd:qvh", append(adapterLong(), extra...), stderr)
	for c, arg := range p.Options() {
		if a.option(c, arg) {
			continue
		}
		if c == 'h' {
			fmt.Fprintf(a.m.out, usage, cli.UsageName(argv0, tool))
			return 0, false
		}
		known, err := own(c, arg)
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return 1, false
		}
		if !known {
			return 1, false
		}
	}
	if ops := p.Operands(); len(ops) > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q. See -h.\n", tool, ops[0])
		return 1, false
	}
	return 0, true
}

// open opens the Loader the requests load through.
func (a *adapterCmd) open() (*modprobe.Loader, error) {
	compat, err := compatFromEnv(a.m.env)
	if err != nil {
		return nil, err
	}
	a.m.compat = compat
	return a.m.openLoader(modprobe.Options{RootDir: a.root, Deny: a.deny})
}

// printRequests is -n: each request on a line.
func (a *adapterCmd) printRequests(reqs []modprobe.Request) {
	for _, r := range reqs {
		fmt.Fprintf(a.m.out, "%s\n", r)
	}
}

// loadOptions are the options of the adapters' loads: -v shows each
// action as modprobe -v does.
func (a *adapterCmd) loadOptions() modprobe.LoadOptions {
	return modprobe.LoadOptions{Show: a.m.showAction, Jobs: a.m.jobs()}
}

// runKata is gokmod kata: load Kata's kernel_modules from configuration.toml
// and the annotation, in order, stopping at the first failure, with
// modprobe's messages.
func runKata(e *env, argv0 string, args []string) int {
	m := newModprobeCmd(e, argv0)
	return m.run(func(m *modprobeCmd) int {
		a := &adapterCmd{m: m}
		var configPath string
		annotations := map[string]string{}
		mode := kata.Replace
		extra := []getopt.Option{
			{Name: "config", HasArg: getopt.RequiredArgument, Val: optConfig},
			{Name: "annotation", HasArg: getopt.RequiredArgument, Val: optAnnotation},
			{Name: "annotation-mode", HasArg: getopt.RequiredArgument, Val: optAnnotationMode},
		}
		status, ok := a.parse(argv0, args, "kata", kataUsage, extra, func(c int, arg string) (bool, error) {
			var err error
			switch c {
			case optConfig:
				configPath = arg
			case optAnnotation:
				annotations[kata.Annotation] = arg
			case optAnnotationMode:
				mode, err = kata.ParseMode(arg)
			default:
				return false, nil
			}
			return true, err
		})
		if !ok {
			return status
		}
		config, err := kataConfig(e, configPath)
		if err == nil {
			config, err = kata.Merge(mode, config, annotations)
		}
		if err != nil {
			fmt.Fprintf(e.Stderr, "kata: %v\n", e.Explain(err))
			return 1
		}
		if a.show {
			a.printRequests(config)
			return 0
		}
		l, err := a.open()
		if err != nil {
			fmt.Fprintf(e.Stderr, "kata: %v\n", err)
			return 1
		}
		// Kata's agent runs modprobe once per module: a module that is not
		// found is modprobe's fatal error.
		opts := a.loadOptions()
		opts.Jobs = 1
		err = kata.Load(e.Context(), l, config, opts)
		rc := m.reportLoad(l, err)
		if cause := e.Interrupted(); err != nil && cause != nil {
			fmt.Fprintf(e.Stderr, "kata: %v\n", cause)
			return 1
		}
		if rc < 0 {
			return 1
		}
		return 0
	})
}

const kataUsage = `Usage: %s [options]
Loads Kata Containers' kernel_modules: [agent.kata] kernel_modules of
configuration.toml, and the io.katacontainers.config.agent.kernel_modules
annotation, in order, stopping at the first failure.

Options:
	    --config=FILE             Read FILE (default: $KATA_CONF_FILE, then
	                              /etc/kata-containers/configuration.toml,
	                              /usr/share/defaults/kata-containers/configuration.toml)
	    --annotation=VALUE        The annotation's value ("e1000e EEE=1; i915")
	    --annotation-mode=MODE    replace (Kata's Go runtime, the default) or
	                              append (runtime-rs)
	-n, --dry-run                 Print each module and its parameters, load nothing
	-d, --dirname=DIR             Use DIR as the root for /lib/modules
	    --deny=NAME[,NAME...]     Never insert these modules (names or patterns),
	                              by any path: a request needing one fails;
	                              GOKMOD_DENY adds to them
	-q, --quiet                   Print no messages
	-v, --verbose                 Print what is loaded, as modprobe -v
	-h, --help                    Print this help

SIGTERM or SIGINT stops it after the module in flight: it prints its error
and exits with status 1.
`

// kataConfig reads the configuration's list: from path, or else from
// $KATA_CONF_FILE or the first of Kata's default files that exists (none
// is an empty list). Each file is read no further than
// kata.MaxConfigSize bytes; a FIFO is refused without waiting on it.
func kataConfig(e *env, path string) ([]modprobe.Request, error) {
	if path == "" {
		if v, ok := e.Getenv("KATA_CONF_FILE"); ok && v != "" {
			path = v
		}
	}
	read := func(p string) ([]byte, error) {
		return cli.ReadInput(e.Context(), p, kata.MaxConfigSize)
	}
	if path != "" {
		data, err := read(path)
		if err != nil {
			return nil, err
		}
		return kata.ParseConfig(data, path)
	}
	for _, p := range kata.DefaultConfigPaths() {
		data, err := read(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return kata.ParseConfig(data, p)
	}
	return nil, nil
}

// runOCIHook is gokmod oci-hook: an OCI prestart hook that loads the
// modules named by KERNEL_MODULES in the container's process.env, as
// iSulad's syscontainer-hooks does with modprobe -a.
func runOCIHook(e *env, argv0 string, args []string) int {
	m := newModprobeCmd(e, argv0)
	// modprobe -a: a module that is not found is a warning, the others
	// are still tried.
	m.logPriority = logWarning
	return m.run(func(m *modprobeCmd) int {
		a := &adapterCmd{m: m}
		state := "prestart"
		extra := []getopt.Option{{Name: "state", HasArg: getopt.RequiredArgument, Val: optState}}
		status, ok := a.parse(argv0, args, "oci-hook", hookUsage, extra, func(c int, arg string) (bool, error) {
			if c != optState {
				return false, nil
			}
			state = arg
			return true, nil
		})
		if !ok {
			return status
		}
		// iSulad's hookspec runs its hook at every stage with --state;
		// modules load at prestart only.
		if state != "prestart" {
			return 0
		}
		reqs, dropped, err := hookRequests(e)
		if err != nil {
			fmt.Fprintf(e.Stderr, "[module-hook] %v\n", e.Explain(err))
			return 1
		}
		if dropped != "" {
			fmt.Fprintf(e.Stderr, "[module-hook] warning: %s: ignoring %q after a second '='\n", isula.EnvKey, dropped)
		}
		if a.show {
			a.printRequests(reqs)
			return 0
		}
		if len(reqs) == 0 {
			return 0
		}
		l, err := a.open()
		if err != nil {
			fmt.Fprintf(e.Stderr, "[module-hook] %v\n", err)
			return 1
		}
		err = isula.Load(e.Context(), l, reqs, a.loadOptions())
		if err == nil {
			return 0
		}
		m.reportLoad(l, err)
		if cause := e.Interrupted(); cause != nil {
			fmt.Fprintf(e.Stderr, "[module-hook] %v\n", cause)
			return 1
		}
		names := make([]string, len(reqs))
		for i, r := range reqs {
			names[i] = r.Name
		}
		fmt.Fprintf(e.Stderr, "[module-hook] Failed to modprobe modules (%q) to host : %d of %d failed\n",
			names, failedNames(err), len(names))
		return 1
	})
}

const hookUsage = `Usage: %s [options]
An OCI prestart hook: reads the container's state on standard input, and
loads the modules named by KERNEL_MODULES (comma-separated) in the
process.env of the bundle's config.json, as modprobe -a does.

Options:
	    --state=STAGE             The hook's stage, as iSulad's hookspec passes it;
	                              anything but prestart (the default) does nothing
	-n, --dry-run                 Print each module, load nothing
	-d, --dirname=DIR             Use DIR as the root for /lib/modules
	    --deny=NAME[,NAME...]     Never insert these modules (names or patterns),
	                              by any path: a request needing one fails;
	                              GOKMOD_DENY adds to them
	-q, --quiet                   Print no messages
	-v, --verbose                 Print what is loaded, as modprobe -v
	-h, --help                    Print this help

SIGTERM or SIGINT stops it after the module in flight: it prints its error
and exits with status 1.
`

// hookRequests reads the hook's state from stdin and the bundle's
// config.json, and parses KERNEL_MODULES; it returns what iSulad's grammar
// drops after a second '='. Each is read no further than
// isula.MaxInputSize bytes; a config.json that is a FIFO is refused
// without waiting on it, and a signal ends a read of standard input that
// waits for a writer.
func hookRequests(e *env) ([]modprobe.Request, string, error) {
	if e.Stdin == nil {
		return nil, "", errors.New("state: no standard input")
	}
	ctx := e.Context()
	data, err := cli.ReadAll(ctx, e.Stdin, isula.MaxInputSize)
	if err != nil {
		return nil, "", fmt.Errorf("state: reading standard input: %w", err)
	}
	st, err := isula.ParseState(data)
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(st.Bundle, isula.ConfigFile)
	data, err = cli.ReadInput(ctx, path, isula.MaxInputSize)
	if err != nil {
		return nil, "", err
	}
	envList, err := isula.ParseSpecEnv(data, path)
	if err != nil {
		return nil, "", err
	}
	parsed, err := isula.ParseEnv(envList)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return parsed.Requests, parsed.Dropped, nil
}

// failedNames counts the names a LoadAll error reports: one branch per
// failed name, however many modules of an alias failed within it.
func failedNames(err error) int {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return len(j.Unwrap())
	}
	return 1
}
