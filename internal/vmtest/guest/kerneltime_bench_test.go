//go:build vmguest

package guest

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/gokmod/modprobe/internal/vmtest"
)

// tracefs is where the kernel's tracing file system is mounted in the
// guest.
const tracefs = "/sys/kernel/tracing"

// BenchmarkKernelTime splits each contender's time between the kernel's
// module loading and the rest, from the entry and exit tracepoints of
// the finit_module(2) system call (events/syscalls, stamped with
// CLOCK_MONOTONIC): NAME-finit-ms/op is the time spent inside the calls,
// NAME-before-ms/op the time from the process's start to its first call
// (start-up, indexes, configuration, planning), NAME-between-ms/op the
// time between one call's return and the next call (state checks,
// opening the next file, the Go runtime's work after a long call),
// NAME-after-ms/op the time from the last return to the process's end,
// NAME-other-ms/op the three together and NAME-finit-calls/op the
// number of calls. The contenders take turns within every iteration,
// from an empty kernel; they load one module at a time, so the calls do
// not overlap. The two tracepoints cost a few microseconds a call, unlike
// a function tracer, which slows the whole kernel down several times.
func BenchmarkKernelTime(b *testing.B) {
	vmtest.RequireGuest(b)
	startTracing(b)
	defer stopTracing(b)
	lists := []struct {
		name  string
		names []string
	}{{"stack", stackModules}, {"independent", independentModules(b)}}
	cs := []contender{kmodModprobe, cliModprobe, libModprobe}
	for _, list := range lists {
		b.Run("distro="+os.Getenv("GOKMOD_VM_DISTRIBUTION")+"/list="+list.name, func(b *testing.B) {
			total := make([]loadSplit, len(cs))
			for range b.N {
				for j, c := range cs {
					unloadAll(b)
					writeTrace(b, "trace", "")
					args := append(append([]string(nil), c.args...), list.names...)
					cmd := exec.Command(c.bin, args...)
					cmd.Env = toolEnv(b, c.env...)
					start := monotonic(b)
					out, err := cmd.CombinedOutput()
					end := monotonic(b)
					if err != nil {
						b.Fatalf("%s %v: %v\n%s", c.bin, args, err, out)
					}
					total[j].add(splitLoad(b, start, end))
				}
			}
			n := float64(b.N)
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / n }
			for j, c := range cs {
				t := total[j]
				b.ReportMetric(ms(t.finit), c.name+"-finit-ms/op")
				b.ReportMetric(ms(t.before), c.name+"-before-ms/op")
				b.ReportMetric(ms(t.between), c.name+"-between-ms/op")
				b.ReportMetric(ms(t.after), c.name+"-after-ms/op")
				b.ReportMetric(ms(t.before+t.between+t.after), c.name+"-other-ms/op")
				b.ReportMetric(float64(t.calls)/n, c.name+"-finit-calls/op")
			}
		})
	}
}

// loadSplit is one load's time, split around its finit_module calls.
type loadSplit struct {
	before, finit, between, after time.Duration
	calls                         int
}

func (s *loadSplit) add(o loadSplit) {
	s.before += o.before
	s.finit += o.finit
	s.between += o.between
	s.after += o.after
	s.calls += o.calls
}

// startTracing mounts tracefs and enables the tracepoints of
// finit_module's entry and exit, stamped with CLOCK_MONOTONIC.
func startTracing(b *testing.B) {
	b.Helper()
	if _, err := os.Stat(tracefs + "/trace_clock"); err != nil {
		if err := syscall.Mount("tracefs", tracefs, "tracefs", 0, ""); err != nil {
			b.Fatalf("mount tracefs: %v", err)
		}
	}
	writeTrace(b, "current_tracer", "nop")
	writeTrace(b, "trace_clock", "mono")
	writeTrace(b, "events/syscalls/sys_enter_finit_module/enable", "1")
	writeTrace(b, "events/syscalls/sys_exit_finit_module/enable", "1")
}

// stopTracing disables the tracepoints startTracing enabled.
func stopTracing(b *testing.B) {
	b.Helper()
	writeTrace(b, "events/syscalls/sys_enter_finit_module/enable", "0")
	writeTrace(b, "events/syscalls/sys_exit_finit_module/enable", "0")
}

// writeTrace writes value to the tracefs file name.
func writeTrace(b *testing.B, name, value string) {
	b.Helper()
	if err := os.WriteFile(tracefs+"/"+name, []byte(value+"\n"), 0o644); err != nil {
		b.Fatalf("%s/%s: %v", tracefs, name, err)
	}
}

// monotonic returns CLOCK_MONOTONIC, the trace's clock.
func monotonic(b *testing.B) time.Duration {
	b.Helper()
	const clockMonotonic = 1 // CLOCK_MONOTONIC
	var ts syscall.Timespec
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		b.Fatal(e)
	}
	return time.Duration(ts.Nano())
}

// splitLoad reads the trace of one load that ran from start to end
// (CLOCK_MONOTONIC) and splits its time around the finit_module calls
// the trace holds, one a line for the entry and one for the exit:
//
//	modprobe-93 [001] ...1. 17.145083: sys_finit_module(fd: 3, uargs: 555ab43bd4a0, flags: 0)
//	modprobe-93 [001] .N.1. 17.181947: sys_finit_module -> 0x0
//
// An exit is matched with the entry of the same thread.
func splitLoad(b *testing.B, start, end time.Duration) loadSplit {
	b.Helper()
	data, err := os.ReadFile(tracefs + "/trace")
	if err != nil {
		b.Fatal(err)
	}
	var s loadSplit
	entered := map[string]time.Duration{}
	var first, last time.Duration
	for _, line := range strings.Split(string(data), "\n") {
		task, at, event, ok := traceEvent(line)
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(event, "sys_finit_module("):
			entered[task] = at
			if first == 0 {
				first = at
			}
		case strings.HasPrefix(event, "sys_finit_module ->"):
			in, ok := entered[task]
			if !ok {
				continue
			}
			delete(entered, task)
			if s.calls > 0 {
				s.between += in - last
			}
			s.finit += at - in
			s.calls++
			last = at
		}
	}
	if s.calls == 0 {
		b.Fatalf("no finit_module call in the trace:\n%s", data)
	}
	s.before = first - start
	s.after = end - last
	return s
}

// traceEvent parses a trace line: the task ("comm-pid"), the time stamp
// and the event with its arguments.
func traceEvent(line string) (task string, at time.Duration, event string, ok bool) {
	if strings.HasPrefix(line, "#") {
		return "", 0, "", false
	}
	f := strings.Fields(line)
	for i := 1; i < len(f)-1; i++ {
		stamp, found := strings.CutSuffix(f[i], ":")
		if !found {
			continue
		}
		sec, err := strconv.ParseFloat(stamp, 64)
		if err != nil {
			continue
		}
		return f[0], time.Duration(sec * 1e9), strings.Join(f[i+1:], " "), true
	}
	return "", 0, "", false
}
