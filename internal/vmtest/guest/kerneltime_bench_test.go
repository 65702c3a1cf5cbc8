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

	"github.com/gokmod/modprobe/internal/vmtest"
)

// tracefs is where the kernel's tracing file system is mounted in the
// guest.
const tracefs = "/sys/kernel/tracing"

// BenchmarkKernelTime splits each contender's time between the kernel's
// module loading and the rest (process start, reading the indexes and
// configuration, planning, checking module state): the kernel's
// function_graph tracer times every finit_module(2) system call, at depth
// 1 so that the tracing itself costs little, and the rest is the wall
// time less that sum. Reported per contender and list as
// NAME-finit-ms/op, NAME-other-ms/op and NAME-finit-calls/op; the
// contenders take turns within every iteration, from an empty kernel.
func BenchmarkKernelTime(b *testing.B) {
	vmtest.RequireGuest(b)
	startTracing(b)
	defer writeTrace(b, "current_tracer", "nop")
	lists := []struct {
		name  string
		names []string
	}{{"stack", stackModules}, {"independent", independentModules(b)}}
	cs := []contender{kmodModprobe, cliModprobe, libModprobe}
	for _, list := range lists {
		b.Run("distro="+os.Getenv("GOKMOD_VM_DISTRIBUTION")+"/list="+list.name, func(b *testing.B) {
			finit := make([]time.Duration, len(cs))
			wall := make([]time.Duration, len(cs))
			calls := make([]int, len(cs))
			for range b.N {
				for j, c := range cs {
					unloadAll(b)
					writeTrace(b, "trace", "")
					args := append(append([]string(nil), c.args...), list.names...)
					cmd := exec.Command(c.bin, args...)
					cmd.Env = toolEnv(b, c.env...)
					start := time.Now()
					out, err := cmd.CombinedOutput()
					wall[j] += time.Since(start)
					if err != nil {
						b.Fatalf("%s %v: %v\n%s", c.bin, args, err, out)
					}
					d, n := tracedDurations(b)
					finit[j] += d
					calls[j] += n
				}
			}
			for j, c := range cs {
				n := float64(b.N)
				b.ReportMetric(float64(finit[j].Milliseconds())/n, c.name+"-finit-ms/op")
				b.ReportMetric(float64((wall[j]-finit[j]).Milliseconds())/n, c.name+"-other-ms/op")
				b.ReportMetric(float64(calls[j])/n, c.name+"-finit-calls/op")
			}
		})
	}
}

// startTracing mounts tracefs and sets the function_graph tracer on the
// finit_module system call's entry point, at depth 1.
func startTracing(b *testing.B) {
	b.Helper()
	if _, err := os.Stat(tracefs + "/current_tracer"); err != nil {
		if err := syscall.Mount("tracefs", tracefs, "tracefs", 0, ""); err != nil {
			b.Fatalf("mount tracefs: %v", err)
		}
	}
	funcs, err := os.ReadFile(tracefs + "/available_filter_functions")
	if err != nil {
		b.Fatal(err)
	}
	entry := ""
	for _, line := range strings.Split(string(funcs), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "__x64_sys_finit_module" {
			entry = f[0]
		}
	}
	if entry == "" {
		b.Fatal("no __x64_sys_finit_module among the kernel's traceable functions")
	}
	writeTrace(b, "current_tracer", "nop")
	writeTrace(b, "max_graph_depth", "1")
	writeTrace(b, "set_graph_function", entry)
	writeTrace(b, "current_tracer", "function_graph")
	// A call that sleeps or moves to another CPU is printed as an entry
	// line and a closing one with the duration: the tail names the
	// function there too. (The option exists once the tracer is set.)
	writeTrace(b, "trace_options", "funcgraph-tail")
}

// writeTrace writes value to the tracefs file name.
func writeTrace(b *testing.B, name, value string) {
	b.Helper()
	if err := os.WriteFile(tracefs+"/"+name, []byte(value+"\n"), 0o644); err != nil {
		b.Fatalf("%s/%s: %v", tracefs, name, err)
	}
}

// tracedDurations sums the durations of the traced calls in the trace
// buffer: "0)  # 1234.567 us |  __x64_sys_finit_module();", or the
// closing line "0)  # 1234.567 us |  } /* __x64_sys_finit_module */" of
// a call printed in two lines (the entry line has no duration).
func tracedDurations(b *testing.B) (time.Duration, int) {
	b.Helper()
	data, err := os.ReadFile(tracefs + "/trace")
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") || !strings.Contains(line, "finit_module") {
			continue
		}
		f := strings.Fields(line)
		for i := 1; i < len(f); i++ {
			if f[i] != "us" {
				continue
			}
			if us, err := strconv.ParseFloat(f[i-1], 64); err == nil {
				total += time.Duration(us * float64(time.Microsecond))
				n++
			}
			break
		}
	}
	return total, n
}
