// Package cli holds what gokmod's commands (cmd/gokmod, cmd/worker)
// share: the process a tool runs in (Env), the running kernel as a tool
// uses it, and what SIGTERM and SIGINT do (signals.go).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/kernel"
)

// Env is what a tool may touch of the process: its streams and
// environment. Tests run tools with their own.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// StdoutTTY makes stdout line-buffered, as the C library does for a
	// terminal, so that output and messages interleave as kmod's do.
	StdoutTTY bool
	// NoStderr reports that the process has no standard error (file
	// descriptor 2 is closed): kmod 31 and later log to syslog then.
	NoStderr bool
	Getenv   func(string) (string, bool)
	Setenv   func(string, string)
	// Kernel, when set, replaces the running kernel and its sysfs,
	// procfs and log (tests use modprobetest's fake kernel).
	Kernel *FakeKernel
	// Ctx is cancelled when the tool must stop (SIGTERM, SIGINT: see
	// signals.go); nil means it never is. Tools get it from Context.
	Ctx context.Context
	// Stopper, when set, is what cancels Ctx; Context makes it watch
	// the signals.
	Stopper *Stopper

	// tuned reports that ProcessEnv tuned the runtime for this process.
	tuned bool
}

// FakeKernel is a kernel for tests: the system-call seam and the
// directories that go with it.
type FakeKernel struct {
	Kernel                modprobe.Kernel
	Sysfs, Proc, KmsgPath string
}

// ProcessEnv returns the process's own Env, its context not yet set, and
// tunes the runtime for a tool's short life.
func ProcessEnv() *Env {
	// A tool runs for milliseconds: collecting garbage then costs more
	// than it saves (measured in the VM: 7% of a modprobe -a of 51
	// modules). The limit still bounds the heap, say while a large
	// module is decompressed.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(256 << 20)
	_, errStat := os.Stderr.Stat()
	return &Env{
		Stdin:     os.Stdin,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		StdoutTTY: isTerminal(os.Stdout),
		NoStderr:  errStat != nil,
		Getenv:    os.LookupEnv,
		Setenv:    func(k, v string) { _ = os.Setenv(k, v) },
		tuned:     true,
	}
}

// LoaderOptions fills in the kernel part of a tool's Loader options, and
// adds the deny list of the environment (GOKMOD_DENY, modprobe.DenyEnv),
// which the host sets for a tool and an install command passes on.
func (e *Env) LoaderOptions(o modprobe.Options) modprobe.Options {
	o.Kernel = toolKernel{}
	if e.Kernel != nil {
		o.Kernel = e.Kernel.Kernel
		o.SysfsDir = e.Kernel.Sysfs
		o.ProcDir = e.Kernel.Proc
		o.KmsgPath = e.Kernel.KmsgPath
	}
	o.Stdout, o.Stderr = e.Stdout, e.Stderr
	if v, ok := e.Getenv(modprobe.DenyEnv); ok {
		o.Deny = append(o.Deny, modprobe.SplitDenyList(v)...)
	}
	return o
}

// LowerDirsEnv is the environment variable that makes a tool's module
// tree layered: module directories, separated by ':', under the one its
// options name (modprobe.Options.LowerDirs), in precedence order.
const LowerDirsEnv = "GOKMOD_LOWER_DIRS"

// DenyFromFile returns the host's deny list file's entries
// (modprobe.DenyFile, or the file modprobe.DenyFileEnv names), for every
// tool that may insert a module. Its error wraps modprobe.ErrDenyFile.
func (e *Env) DenyFromFile() ([]string, error) {
	path := modprobe.DenyFile
	if v, ok := e.Getenv(modprobe.DenyFileEnv); ok {
		if v == "" {
			return nil, nil
		}
		path = v
	}
	return modprobe.ReadDenyFile(path)
}

// OwnError reports whether err is one of gokmod's own reasons a tool
// could not open its Loader (a deny list file, a layered tree), which
// kmod has no message for: the tool prints it before kmod's "kmod_new()
// failed!".
func OwnError(err error) bool {
	return errors.Is(err, ErrLayers) || errors.Is(err, modprobe.ErrDenyFile)
}

// OpenLoader opens the Loader of a tool that resolves module names
// (modprobe, modinfo, coldplug, modules-load) with LoaderOptions and
// the deny list file's entries (DenyFromFile), over
// the layered tree LowerDirsEnv names if it is set. Indexing a layered
// tree reads every module of every layer: the collector runs for it, and
// a signal stops it.
func (e *Env) OpenLoader(o modprobe.Options) (*modprobe.Loader, error) {
	o = e.LoaderOptions(o)
	deny, err := e.DenyFromFile()
	if err != nil {
		return nil, err
	}
	o.Deny = append(o.Deny, deny...)
	if v, ok := e.Getenv(LowerDirsEnv); ok && v != "" {
		for _, d := range filepath.SplitList(v) {
			if d != "" {
				o.LowerDirs = append(o.LowerDirs, d)
			}
		}
	}
	if len(o.LowerDirs) == 0 {
		return modprobe.Open(o)
	}
	e.WorkKeepsTree()
	l, err := modprobe.OpenContext(e.LookupContext(), o)
	if err != nil {
		return nil, fmt.Errorf("%w (%s): %w", ErrLayers, LowerDirsEnv, err)
	}
	return l, nil
}

// ErrLayers: the layered tree of OpenLoader could not be indexed. kmod has
// no such tree, so its message ("kmod_new() failed!") says nothing of
// why: a tool prints this error before it.
var ErrLayers = errors.New("layered module tree")

// UsageName is how a tool is called in its usage: the link's name, or
// "gokmod TOOL".
func UsageName(argv0, tool string) string {
	if base := filepath.Base(argv0); base != "gokmod" {
		return base
	}
	return "gokmod " + tool
}

// toolKernel is the running kernel as a tool process uses it: module
// loads are raw system calls (see kernel.FinitModuleRaw), which a
// short-lived process that collects no garbage can afford.
type toolKernel struct{}

func (toolKernel) FinitModule(f *os.File, params string, flags modprobe.InitFlags) error {
	return kernel.FinitModuleRaw(f, params, int(flags))
}

func (toolKernel) InitModule(image []byte, params string) error {
	return kernel.InitModule(image, params)
}

func (toolKernel) DeleteModule(name string, flags modprobe.DeleteFlags) error {
	return kernel.DeleteModule(name, int(flags))
}
