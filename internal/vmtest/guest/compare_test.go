//go:build vmguest

package guest

import (
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The differential tests run each command line through the guest's kmod
// (/sbin/TOOL) and through gokmod (/gokmod/TOOL), each from the same
// kernel state, and compare the exit status, both outputs, the modules
// loaded afterwards and the kernel's log lines.

// step is one command line of a differential test; build it with tool.
type step struct {
	setup []string // kmod commands run first ("modprobe dummy"), not compared
	tool  string   // modprobe, insmod, rmmod or lsmod
	args  []string
	dir   string // the working directory; "" means /
	// known, if set, says why gokmod deliberately differs from this
	// distribution's kmod here: the outcomes are logged, not compared
	// (the test asserts what gokmod must do).
	known string
}

// tool returns the step running name (modprobe, insmod, rmmod, lsmod)
// with args.
func tool(name string, args ...string) step { return step{tool: name, args: args} }

// after returns s with kmod commands to run first.
func (s step) after(setup ...string) step { s.setup = setup; return s }

// in returns s run in the working directory dir.
func (s step) in(dir string) step { s.dir = dir; return s }

// differs returns s marked as a deliberate difference from kmod.
func (s step) differs(why string) step { s.known = why; return s }

func (s step) String() string {
	line := strings.Join(append([]string{s.tool}, s.args...), " ")
	if s.dir != "" {
		line = "(cd " + s.dir + "; " + line + ")"
	}
	return line
}

// outcome is what one run of a step produced.
type outcome struct {
	exit           int
	stdout, stderr string
	modules        []string // /proc/modules afterwards, sorted
	klog           []string // the kernel's log lines during the run (see kernelLog)
}

func (o outcome) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s--- modules %v\n--- kernel log\n%s",
		o.exit, o.stdout, o.stderr, o.modules, strings.Join(o.klog, "\n"))
}

func (o outcome) equal(p outcome) bool {
	return o.exit == p.exit && o.stdout == p.stdout && o.stderr == p.stderr &&
		slices.Equal(o.modules, p.modules) && slices.Equal(o.klog, p.klog)
}

// runStep runs s with kmod's tool, or with gokmod's, from a kernel
// without modules.
func runStep(t *testing.T, s step, gokmod bool) outcome {
	t.Helper()
	unloadAll(t)
	for _, c := range s.setup {
		f := strings.Fields(c)
		run(t, "/sbin/"+f[0], f[1:]...)
	}
	bin := "/sbin/" + s.tool
	if gokmod {
		bin = "/gokmod/" + s.tool
	}
	cmd := exec.Command(bin, s.args...)
	cmd.Env = toolEnv(t)
	cmd.Dir = s.dir
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	log := openKmsg(t)
	defer log.Close()
	err := cmd.Run()
	o := outcome{stdout: stdout.String(), stderr: stderr.String(), klog: kernelLog(log.lines(t))}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		o.exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	o.modules = liveModules(t)
	return o
}

// kernelLog returns the log lines the comparison counts: all but the
// notices the kernel prints only for the first module that taints it in
// a way ("module verification failed: ... - tainting kernel", "bad
// vermagic: kernel tainted.", "Disabling lock debugging due to kernel
// taint"), which whichever tool runs second after the first such load
// never provokes; and what the kernel says about the emulated machine's
// clocks when the host is so loaded that they run late ("hrtimer:
// interrupt took N ns", once a boot; "clocksource: Long readout
// interval, skipping watchdog check: ..."), whatever tool runs then.
func kernelLog(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasSuffix(l, "tainting kernel") || strings.HasSuffix(l, "kernel tainted.") ||
			l == "Disabling lock debugging due to kernel taint" ||
			strings.HasPrefix(l, "hrtimer: interrupt took ") || strings.HasPrefix(l, "clocksource: ") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// compareSteps runs every step with kmod and with gokmod, reports each
// difference as an error (but logs those of steps marked known), logs how
// many were identical and returns gokmod's outcomes.
func compareSteps(t *testing.T, steps []step) []outcome {
	t.Helper()
	t.Cleanup(func() { unloadAll(t) })
	same, known := 0, 0
	var outs []outcome
	for _, s := range steps {
		kmod, ours := runStep(t, s, false), runStep(t, s, true)
		outs = append(outs, ours)
		switch {
		case s.known != "" && kmod.equal(ours):
			t.Logf("%s: identical to kmod %d's, though marked as a known difference (%s)", s, kmodVersion(t), s.known)
			same++
		case s.known != "":
			known++
			t.Logf("%s differs as known (%s):\n=== kmod %d:\n%s\n=== gokmod:\n%s", s, s.known, kmodVersion(t), kmod, ours)
		case !kmod.equal(ours):
			t.Errorf("%s differs:\n=== kmod %d:\n%s\n=== gokmod:\n%s", s, kmodVersion(t), kmod, ours)
		default:
			same++
		}
	}
	t.Logf("%d/%d command lines identical to kmod %d's (output, exit status, modules left, kernel log); %d differ as known",
		same, len(steps)-known, kmodVersion(t), known)
	return outs
}
