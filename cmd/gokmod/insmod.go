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
	"github.com/gokmod/modprobe/internal/getopt"
	"github.com/gokmod/modprobe/internal/kmodlog"
)

// features is the second line of -V: what this gokmod can do, in kmod's
// words. It decompresses all three formats itself and leaves signatures
// to the kernel.
const features = "+ZSTD +XZ +ZLIB -LIBCRYPTO -EXPERIMENTAL"

// printVersion is what kmod's tools print for -V.
func printVersion(out *outWriter, e *env) int {
	v := 30
	if c, err := compatFromEnv(e); err == nil && c == modprobe.CompatLatest {
		v = 34
	}
	fmt.Fprintf(out, "kmod version %d\n%s\n", v, features)
	return 0
}

// simpleTool holds what insmod, rmmod and lsmod share.
type simpleTool struct {
	env *env
	out *outWriter
	log *toolLog
}

func newSimpleTool(e *env, prog string) *simpleTool {
	return &simpleTool{
		env: e,
		out: &outWriter{Writer: bufio.NewWriterSize(e.stdout, 4096), line: e.stdoutTTY},
		log: newToolLog(prog, e.stderr),
	}
}

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
		return printVersion(t.out, t.env)
	case '?':
		return 1
	}
	t.log.printf(logErr, "unexpected getopt_long() value '%c'.\n", c)
	return 1
}

// open opens a Loader as kmod_new(NULL, &null_config) does: the running
// kernel's module directory and no configuration files.
func (t *simpleTool) open(verbose int) (*modprobe.Loader, error) {
	l, err := modprobe.Open(t.env.loaderOptions(modprobe.Options{
		ConfigPaths: []string{},
		Logger:      slog.New(slogHandler{t.log}),
		Compat:      modprobe.CompatKmod30,
	}))
	if err == nil {
		t.log.setupKmodLog(verbose)
	}
	return l, err
}

func runInsmod(e *env, argv0 string, args []string) (status int) {
	t := newSimpleTool(e, "insmod")
	defer t.finish(&status)
	p := getopt.New(argv0, args, "psfVh", []getopt.Option{
		{Name: "version", Val: 'V'},
		{Name: "help", Val: 'h'},
	}, e.stderr).WithEnv(e.getenv)
	var force bool
	for c := range p.Options() {
		switch c {
		case 'p', 's': // ignored, for compatibility
		case 'f':
			force = true
		case 'h':
			fmt.Fprintf(t.out, "Usage:\n\t%s [options] filename [args]\nOptions:\n\t-V, --version     show version\n\t-h, --help        show this help\n", "insmod")
			return 0
		default:
			return t.otherOption(rune(c))
		}
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
	l, err := t.open(logWarning)
	if err != nil {
		t.log.printf(logErr, "kmod_new() failed!\n")
		return 1
	}
	if _, err := os.Stat(filename); err != nil {
		t.log.printf(logErr, "could not load module %s: %s\n", filename, kmodlog.Strerror(errnoOf(err)))
		return 1
	}
	err = l.InsertFile(e.context(), filename, opts, modprobe.LoadOptions{ForceVermagic: force, ForceModversion: force})
	if err != nil && e.cancelledBy(err) {
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
