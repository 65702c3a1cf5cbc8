// The runtime does not start its GOMAXPROCS update goroutine (Go 1.25's
// updatemaxprocs), which sysmon wakes to reread the CPU quota each second:
// one goroutine fewer to start in a process of a few milliseconds, and no
// periodic cgroup reads in a long depmod. GOMAXPROCS still follows the
// cgroup's CPU quota when the process starts (containermaxprocs keeps its
// default; the runtime reads the cgroup at start whatever it is set to);
// only a quota changed while a tool runs is not followed, which a tool
// whose work is system calls and file I/O has no use for.
//
//go:debug updatemaxprocs=0

// Command gokmod is a drop-in for kmod's tools. Invoked through a link named
// after a tool (modprobe), it behaves as that tool; otherwise the first
// argument names the tool: gokmod modprobe -D ip_vs_wrr.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gokmod/modprobe/internal/cli"
)

// toolNames are the tools gokmod can be.
func toolNames() []string {
	return []string{"modprobe", "insmod", "rmmod", "lsmod", "modinfo", "depmod", "kmod", "kata", "oci-hook", "kmm", "sign", "preflight", "closure", "modules-load", "coldplug"}
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
	case "kmm":
		return func(e *env, argv0 string, args []string) int {
			return handOver(e, argv0, append([]string{"kmm"}, args...))
		}
	case "worker":
		return func(e *env, argv0 string, args []string) int { return handOver(e, argv0, args) }
	case "kata":
		return runKata
	case "oci-hook":
		return runOCIHook
	case "closure":
		return runClosure
	case "modules-load":
		return runModulesLoad
	case "coldplug":
		return runColdplug
	case "sign", "preflight":
		// sign-file's work and preflight's --cert need X.509 (and sign
		// a zstd compressor), which modprobe's process should not link:
		// the worker binary does them.
		return func(e *env, argv0 string, args []string) int {
			return handOver(e, argv0, append([]string{name}, args...))
		}
	}
	return nil
}

// env is the process a tool runs in (see cli.Env).
type env = cli.Env

func main() {
	e := cli.ProcessEnv()
	name, _, _ := resolve(os.Args)
	ctx, stop := cli.NewStopper()
	e.Ctx, e.Stopper = ctx, stop
	if reportsSignals(name) {
		stop.Watch()
	}
	os.Exit(stop.Exit(run(e, os.Args), isKmodTool(name) || name == ""))
}

// reportsSignals reports whether name is one of gokmod's own tools, which
// report a signal whenever it comes (see cli's signals.go), and so watch
// the signals from their start; kmod's tools watch them from their first
// step that a signal must not cut short, and before that die by it as
// kmod's do. kmm and worker hand over to the worker binary, which watches
// its own.
func reportsSignals(name string) bool {
	return name == "kata" || name == "oci-hook"
}

// isKmodTool reports whether name is a tool that stands in for kmod's,
// which dies by a signal that stops it.
func isKmodTool(name string) bool {
	switch name {
	case "modprobe", "insmod", "rmmod", "lsmod", "modinfo", "depmod":
		return true
	}
	return false
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
	fmt.Fprintf(e.Stderr, "usage: %s TOOL [ARGS...]\n\ntools: %s\n\nA link to gokmod named after a tool runs that tool.\n", filepath.Base(argv[0]), strings.Join(toolNames(), ", "))
	return 1
}
