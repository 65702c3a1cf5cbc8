package main

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/cli"
	"github.com/gokmod/modprobe/internal/getopt"
	"github.com/gokmod/modprobe/internal/kmodlog"
)

// simpleTool holds what insmod, rmmod, lsmod and modinfo share.
type simpleTool struct {
	env *env
	out *outWriter
	log *toolLog
	// compat is the kmod release GOKMOD_COMPAT selects; compatErr is set
	// when it names none (see checkCompat).
	compat    modprobe.Compat
	compatErr error
}

func newSimpleTool(e *env, prog string) *simpleTool {
	c, err := compatFromEnv(e)
	t := &simpleTool{
		env:       e,
		out:       &outWriter{Writer: bufio.NewWriterSize(e.Stdout, 4096), line: e.StdoutTTY},
		log:       newToolLog(prog, e.Stderr),
		compat:    c,
		compatErr: err,
	}
	t.log.setCompat(c)
	return t
}

// checkCompat reports an unknown GOKMOD_COMPAT, as modprobe does, and
// returns false then.
func (t *simpleTool) checkCompat() bool {
	if t.compatErr != nil {
		t.log.printf(logErr, "%v\n", t.compatErr)
		return false
	}
	return true
}

// kmod30 reports whether the tool follows kmod 30.
func (t *simpleTool) kmod30() bool { return t.compat == modprobe.CompatKmod30 }

// finish flushes the output and turns an exitNow into a status.
func (t *simpleTool) finish(status *int) {
	t.out.Flush()
	t.log.close()
	if r := recover(); r != nil {
		code, ok := r.(exitNow)
		if !ok {
			panic(r)
		}
		*status = int(code)
	}
}

// otherOption handles what every kmod tool does with an option it has no
// case for: -V prints the version, '?' (getopt already complained) fails,
// anything else is reported. It returns the tool's exit status.
func (t *simpleTool) otherOption(c rune) int {
	switch c {
	case 'V':
		return printVersion(t.out, t.env, t.log)
	case '?':
		return 1
	}
	t.log.printf(logErr, "unexpected getopt_long() value '%c'.\n", c)
	return 1
}

// open opens a Loader as kmod_new(NULL, &null_config) does: the running
// kernel's module directory and no configuration files. A tool that
// inserts (insmod) also denies what the host's deny list file names.
func (t *simpleTool) open(verbose int, inserts bool) (*modprobe.Loader, error) {
	o := t.env.LoaderOptions(modprobe.Options{
		ConfigPaths: []string{},
		Logger:      slog.New(slogHandler{t.log}),
		Compat:      t.compat,
	})
	if inserts {
		deny, err := t.env.DenyFromFile()
		if err != nil {
			return nil, err
		}
		o.Deny = append(o.Deny, deny...)
	}
	l, err := modprobe.Open(o)
	if err == nil {
		t.log.setupKmodLog(verbose)
	}
	return l, err
}

func runInsmod(e *env, argv0 string, args []string) (status int) {
	t := newSimpleTool(e, "insmod")
	defer t.finish(&status)
	if !t.checkCompat() {
		return 1
	}
	// kmod 34 dropped the ignored -p and made -s --syslog, and added -v.
	short, long, verbose := "psfVh", []getopt.Option{{Name: "version", Val: 'V'}, {Name: "help", Val: 'h'}}, logWarning
	if !t.kmod30() {
		short, long, verbose = "fsvVh", []getopt.Option{
			{Name: "force", Val: 'f'},
			{Name: "syslog", Val: 's'},
			{Name: "verbose", Val: 'v'},
			{Name: "version", Val: 'V'},
			{Name: "help", Val: 'h'},
		}, logErr
	}
	p := getopt.New(argv0, args, short, long, e.Stderr).WithEnv(e.Getenv)
	var force, useSyslog bool
	for c := range p.Options() {
		switch {
		case c == 'p' || (c == 's' && t.kmod30()): // ignored, for compatibility
		case c == 's':
			useSyslog = true
		case c == 'v':
			verbose++
		case c == 'f':
			force = true
		case c == 'h':
			t.insmodHelp()
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
		t.log.printf(logErr, "missing filename.\n")
		return 1
	}
	filename := operands[0]
	if filename == "-" {
		t.log.printf(logErr, "this tool does not support loading from stdin!\n")
		return 1
	}
	opts := strings.Join(operands[1:], " ")
	l, err := t.open(verbose, true)
	if err != nil {
		if cli.OwnError(err) {
			t.log.printf(logErr, "%v\n", err)
		}
		t.log.printf(logErr, "kmod_new() failed!\n")
		return 1
	}
	if _, err := os.Stat(filename); err != nil {
		t.log.printf(logErr, "could not load module %s: %s\n", filename, kmodlog.Strerror(errnoOf(err)))
		return 1
	}
	err = l.InsertFile(e.Context(), filename, opts, modprobe.LoadOptions{ForceVermagic: force, ForceModversion: force})
	if err != nil && e.CancelledBy(err) {
		return 1 // a signal stopped it before the insertion began
	}
	if err != nil {
		var errno syscall.Errno
		msg := ""
		if errors.As(err, &errno) {
			msg = insmodStrerror(errno)
		} else {
			msg = innermost(err).Error()
		}
		t.log.printf(logErr, "could not insert module %s: %s\n", filename, msg)
		return 1
	}
	return 0
}

// insmodHelp prints insmod's -h for the kmod release followed.
func (t *simpleTool) insmodHelp() {
	if t.kmod30() {
		fmt.Fprintf(t.out, "Usage:\n\t%s [options] filename [args]\nOptions:\n\t-V, --version     show version\n\t-h, --help        show this help\n", "insmod")
		return
	}
	fmt.Fprintf(t.out, "Usage:\n\t%s [options] filename [module options]\nOptions:\n"+
		"\t-f, --force       DANGEROUS: forces a module load, may cause\n"+
		"\t                  data corruption and crash your machine\n"+
		"\t-s, --syslog      print to syslog, not stderr\n"+
		"\t-v, --verbose     enables more messages\n"+
		"\t-V, --version     show version\n"+
		"\t-h, --help        show this help\n", "insmod")
}

// insmodStrerror is insmod's mod_strerror.
func insmodStrerror(errno syscall.Errno) string {
	switch errno {
	case syscall.ENOEXEC:
		return "Invalid module format"
	case syscall.ENOENT:
		return "Unknown symbol in module"
	case syscall.ESRCH:
		return "Module has wrong symbol version"
	case syscall.EINVAL:
		return "Invalid parameters"
	}
	return kmodlog.Strerror(errno)
}

// errnoOf returns the errno inside err, or EINVAL.
func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return syscall.EINVAL
}

// innermost returns the error a chain of *ModuleError wraps.
func innermost(err error) error {
	var me *modprobe.ModuleError
	for errors.As(err, &me) {
		err = me.Err
	}
	return err
}
