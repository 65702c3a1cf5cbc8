package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/getopt"
	"github.com/gokmod/modprobe/internal/kmodlog"
)

func runLsmod(e *env, argv0 string, args []string) (status int) {
	t := newSimpleTool(e, "lsmod")
	defer t.finish(&status)
	if !t.checkCompat() {
		return 1
	}
	verbose, ok := logErr, true
	if t.kmod30() {
		// kmod 30's lsmod takes no options and prints its own messages.
		if len(args) != 0 {
			fmt.Fprintf(e.Stderr, "Usage: %s\n", argv0)
			return 1
		}
	} else if verbose, ok = t.lsmodOptions(argv0, args, &status); !ok {
		return status
	}
	// lsmod needs no module directory; give the Loader one that is never
	// read, so that an unknown kernel release is no error.
	l, err := modprobe.Open(e.LoaderOptions(modprobe.Options{
		ModuleDir:   "/",
		ConfigPaths: []string{},
		Logger:      slog.New(slogHandler{t.log}),
		Compat:      t.compat,
	}))
	if err != nil {
		t.lsmodError("kmod_new() failed!")
		return 1
	}
	if !t.kmod30() {
		t.log.setupKmodLog(verbose)
	}
	mods, err := l.Loaded()
	if err != nil {
		t.lsmodError("could not get list of modules: " + kmodlog.Strerror(errnoOf(err)))
		return 1
	}
	fmt.Fprintf(t.out, "Module                  Size  Used by\n")
	for _, m := range mods {
		fmt.Fprintf(t.out, "%-19s %8d  %d", m.Name, m.Size, m.Refcnt)
		if len(m.Holders) > 0 {
			fmt.Fprintf(t.out, " %s", strings.Join(m.Holders, ","))
		}
		fmt.Fprintf(t.out, "\n")
	}
	return 0
}

// lsmodOptions reads kmod 34's lsmod options (-s, -v, -V, -h) and opens
// syslog for -s. It returns the log priority, or false with the exit
// status in *status when the tool ends here.
func (t *simpleTool) lsmodOptions(argv0 string, args []string, status *int) (int, bool) {
	p := getopt.New(argv0, args, "svVh", []getopt.Option{
		{Name: "syslog", Val: 's'},
		{Name: "verbose", Val: 'v'},
		{Name: "version", Val: 'V'},
		{Name: "help", Val: 'h'},
	}, t.env.Stderr).WithEnv(t.env.Getenv)
	verbose, useSyslog := logErr, false
	for c := range p.Options() {
		switch c {
		case 's':
			useSyslog = true
		case 'v':
			verbose++
		case 'h':
			fmt.Fprintf(t.out, "Usage:\n\t%s [options]\nOptions:\n"+
				"\t-s, --syslog      print to syslog, not stderr\n"+
				"\t-v, --verbose     enables more messages\n"+
				"\t-V, --version     show version\n"+
				"\t-h, --help        show this help\n", "lsmod")
			*status = 0
			return 0, false
		default:
			*status = t.otherOption(rune(c))
			return 0, false
		}
	}
	if useSyslog {
		t.log.openSyslog()
	}
	if len(p.Operands()) > 0 {
		t.log.printf(logErr, "too many arguments provided.\n")
		*status = 1
		return 0, false
	}
	return verbose, true
}

// lsmodError prints one of lsmod's errors: "Error: MSG" on stderr in
// kmod 30, an ERROR message of the tool's log in kmod 34.
func (t *simpleTool) lsmodError(msg string) {
	if t.kmod30() {
		fmt.Fprintf(t.env.Stderr, "Error: %s\n", msg)
		return
	}
	t.log.printf(logErr, "%s\n", msg)
}
