// Command gokmod is a drop-in for kmod's tools. Invoked through a link named
// after a tool (modprobe), it behaves as that tool; otherwise the first
// argument names the tool: gokmod modprobe -D ip_vs_wrr.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/kernel"
)

// toolNames are the tools gokmod can be.
func toolNames() []string {
	return []string{"modprobe", "insmod", "rmmod", "lsmod", "modinfo", "depmod", "kmod", "kata", "oci-hook", "kmm"}
}

// tool returns the entry point of the tool called name, or nil: it gets
// the process environment, argv[0] (which glibc's getopt prints in its
// messages) and the arguments after the tool name, and returns the exit
// status.
func tool(name string) func(env *env, argv0 string, args []string) int {
	switch name {
	case "modprobe":
		return runModprobe
	case "insmod":
		return runInsmod
	case "rmmod":
		return runRmmod
	case "lsmod":
		return runLsmod
	case "modinfo":
		return runModinfo
	case "depmod":
		return runDepmod
	case "kmod":
		return runKmodTool
	case "kata":
		return runKata
	case "oci-hook":
		return runOCIHook
	case "kmm", "worker":
		return runKMM
	}
	return nil
}

// env is what a tool may touch of the process: its streams and
// environment. Tests run tools with their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// stdoutTTY makes stdout line-buffered, as the C library does for a
	// terminal, so that output and messages interleave as kmod's do.
	stdoutTTY bool
	// noStderr reports that the process has no standard error (file
	// descriptor 2 is closed): kmod 31 and later log to syslog then.
	noStderr bool
	getenv   func(string) (string, bool)
	setenv   func(string, string)
	// kernel, when set, replaces the running kernel and its sysfs,
	// procfs and log (tests use modprobetest's fake kernel).
	kernel *fakeKernel
	// ctx is cancelled when the tool must stop (SIGTERM, SIGINT: see
	// signals.go); nil means it never is. Tools get it from context().
	ctx context.Context
}

// fakeKernel is a kernel for tests: the system-call seam and the
// directories that go with it.
type fakeKernel struct {
	kernel                modprobe.Kernel
	sysfs, proc, kmsgPath string
}

// loaderOptions fills in the kernel part of a tool's Loader options.
func (e *env) loaderOptions(o modprobe.Options) modprobe.Options {
	o.Kernel = toolKernel{}
	if e.kernel != nil {
		o.Kernel = e.kernel.kernel
		o.SysfsDir = e.kernel.sysfs
		o.ProcDir = e.kernel.proc
		o.KmsgPath = e.kernel.kmsgPath
	}
	o.Stdout, o.Stderr = e.stdout, e.stderr
	return o
}

func main() {
	// A tool runs for milliseconds: collecting garbage then costs more
	// than it saves (measured in the VM: 7% of a modprobe -a of 51
	// modules). The limit still bounds the heap, say while a large
	// module is decompressed.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(256 << 20)
	st, err := os.Stdout.Stat()
	_, errStat := os.Stderr.Stat()
	e := &env{
		stdin:     os.Stdin,
		stdout:    os.Stdout,
		stderr:    os.Stderr,
		stdoutTTY: err == nil && st.Mode()&os.ModeCharDevice != 0,
		noStderr:  errStat != nil,
		getenv:    os.LookupEnv,
		setenv:    func(k, v string) { _ = os.Setenv(k, v) },
	}
	ctx, stop := watchSignals()
	e.ctx = ctx
	name, _, _ := resolve(os.Args)
	os.Exit(stop.exit(name, run(e, os.Args)))
}

// resolve returns the tool argv calls for, its entry point and its
// arguments: the tool a link is named after, or the one the first
// argument names; "" and nil for neither.
func resolve(argv []string) (name string, fn func(env *env, argv0 string, args []string) int, args []string) {
	name = filepath.Base(argv[0])
	if t := tool(name); t != nil {
		return name, t, argv[1:]
	}
	if len(argv) > 1 {
		if t := tool(argv[1]); t != nil {
			return argv[1], t, argv[2:]
		}
	}
	return "", nil, nil
}

func run(e *env, argv []string) int {
	if _, t, args := resolve(argv); t != nil {
		return t(e, argv[0], args)
	}
	fmt.Fprintf(e.stderr, "usage: %s TOOL [ARGS...]\n\ntools: %s\n\nA link to gokmod named after a tool runs that tool.\n", filepath.Base(argv[0]), strings.Join(toolNames(), ", "))
	return 1
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
