package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/getopt"
	"github.com/gokmod/modprobe/internal/kmodlog"
	"github.com/gokmod/modprobe/internal/modname"
)

func runRmmod(e *env, argv0 string, args []string) (status int) {
	t := newSimpleTool(e, "rmmod")
	defer t.finish(&status)
	if !t.checkCompat() {
		return 1
	}
	// kmod 30 still takes the long-hidden -w, and reports it as unknown;
	// kmod 34 dropped it. kmod 34 prints warnings only with -v.
	short, verbose := "fsvVhw", logWarning
	if !t.kmod30() {
		short, verbose = "fsvVh", logErr
	}
	p := getopt.New(argv0, args, short, []getopt.Option{
		{Name: "force", Val: 'f'},
		{Name: "syslog", Val: 's'},
		{Name: "verbose", Val: 'v'},
		{Name: "version", Val: 'V'},
		{Name: "help", Val: 'h'},
	}, e.Stderr).WithEnv(e.Getenv)
	var force, useSyslog bool
	for c := range p.Options() {
		switch c {
		case 'f':
			force = true
		case 's':
			useSyslog = true
		case 'v':
			verbose++
		case 'h':
			t.rmmodHelp()
			return 0
		default:
			return t.otherOption(rune(c))
		}
	}
	if useSyslog {
		t.log.openSyslog()
	}
	operands := p.Operands()
	if len(operands) == 0 {
		t.log.printf(logErr, "missing module name.\n")
		return 1
	}
	l, err := t.open(verbose, false)
	if err != nil {
		t.log.printf(logErr, "kmod_new() failed!\n")
		return 1
	}
	failed := 0
	for _, arg := range operands {
		if e.Interrupted() != nil {
			return 1 // a signal: nothing after the removal in flight
		}
		name := arg
		if _, err := os.Stat(arg); err == nil {
			name = modname.FromPath(arg)
		} else {
			name = modname.Normalize(arg)
		}
		if !force && !t.checkInUse(l, name) {
			failed++
			continue
		}
		var opts modprobe.RemoveOptions
		opts.Force = force
		if err := l.RemoveModule(e.Context(), name, opts); err != nil {
			if e.CancelledBy(err) {
				return 1
			}
			t.log.printf(logErr, "could not remove module %s: %s\n", arg, kmodlog.Strerror(errnoOf(err)))
			failed++
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// checkInUse is rmmod's check_module_inuse: it prints why the module
// cannot be removed and reports whether it can.
func (t *simpleTool) checkInUse(l *modprobe.Loader, name string) bool {
	st, err := l.State(name)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.log.printf(logErr, "Module %s is not currently loaded\n", name)
		return false
	}
	switch st.State {
	case modprobe.StateBuiltin:
		t.log.printf(logErr, "Module %s is builtin.\n", name)
		return false
	case modprobe.StateNotLoaded:
		t.log.printf(logErr, "Module %s is not currently loaded\n", name)
		return false
	}
	if len(st.Holders) > 0 {
		t.log.printf(logErr, "Module %s is in use by: %s\n", name, strings.Join(st.Holders, " "))
		return false
	}
	switch {
	case st.Refcnt > 0:
		t.log.printf(logErr, "Module %s is in use\n", name)
		return false
	case st.Refcnt < 0:
		t.log.printf(logErr, "Module unloading is not supported\n")
		return false
	}
	return true
}

// rmmodHelp prints rmmod's -h for the kmod release followed.
func (t *simpleTool) rmmodHelp() {
	if t.kmod30() {
		fmt.Fprintf(t.out, "Usage:\n\t%s [options] modulename ...\nOptions:\n"+
			"\t-f, --force       forces a module unload and may crash your\n"+
			"\t                  machine. This requires Forced Module Removal\n"+
			"\t                  option in your kernel. DANGEROUS\n"+
			"\t-s, --syslog      print to syslog, not stderr\n"+
			"\t-v, --verbose     enables more messages\n"+
			"\t-V, --version     show version\n"+
			"\t-h, --help        show this help\n", "rmmod")
		return
	}
	fmt.Fprintf(t.out, "Usage:\n\t%s [options] [list of modulenames]\nOptions:\n"+
		"\t-f, --force       DANGEROUS: forces a module unload and may\n"+
		"\t                  crash your machine\n"+
		"\t-s, --syslog      print to syslog, not stderr\n"+
		"\t-v, --verbose     enables more messages\n"+
		"\t-V, --version     show version\n"+
		"\t-h, --help        show this help\n", "rmmod")
}
