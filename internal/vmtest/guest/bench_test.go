//go:build vmguest

package guest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/modprobe/internal/vmtest"
)

// The benchmarks time kmod's modprobe and gokmod's side by side in one
// boot, each iteration from an empty kernel: `make bench` runs them
// (GOKMOD_VM_BENCH=. go test -run TestGuest ./internal/vmtest).

// stackModules are loaded one after the other by one modprobe -a: the
// Sound Open Firmware driver with its 25 dependencies, then the ip_vs_wrr
// chain: over 30 modules.
var stackModules = []string{"snd-sof-pci-intel-tgl", "ip_vs_wrr"}

// independentModules returns the NLS modules: over 20 modules without
// dependencies.
func independentModules(b *testing.B) []string {
	b.Helper()
	paths, err := filepath.Glob(moduleDir(b) + "/kernel/fs/nls/*.ko*")
	if err != nil || len(paths) < 20 {
		b.Fatalf("%d NLS modules in the image (%v), want at least 20", len(paths), err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, baseName(p))
	}
	sort.Strings(names)
	return names
}

// contender is one way of running modprobe -a: bin with args, then the
// module names, and env.
type contender struct {
	name string
	bin  string
	args []string
	env  []string
}

// benchModprobe times `modprobe -a names...` by each contender, from an
// empty kernel each time, in sub-benchmarks that name the guest in
// benchstat's key=value form: "distro=debian12/kernel=6.1.0-57-amd64"
// (the distribution the host's vm_test.go set in GOKMOD_VM_DISTRIBUTION,
// and the running kernel's release; go test appends the guest's
// GOMAXPROCS, "-2", to the last). The contenders take turns within every
// iteration, so that drifts in the emulator's speed weigh on all alike;
// each one's mean time is reported as NAME-ms/op, its processes' CPU time
// (user and system, from getrusage) as NAME-cpu-ms/op and their voluntary
// context switches as NAME-vcsw/op, and the ratio of each one's time to
// the first's as NAME/FIRST (of the totals), with the median, least and
// greatest of the iterations' ratios as NAME/FIRST-med, NAME/FIRST-min
// and NAME/FIRST-max.
func benchModprobe(b *testing.B, names []string, cs ...contender) {
	distro := os.Getenv("GOKMOD_VM_DISTRIBUTION")
	if distro == "" {
		b.Fatal("GOKMOD_VM_DISTRIBUTION is not set")
	}
	b.Run("distro="+distro, func(b *testing.B) {
		b.Run("kernel="+release(b), func(b *testing.B) { benchContenders(b, names, cs) })
	})
}

// benchName names the guest in log lines: "debian12 6.1.0-57-amd64".
func benchName(b *testing.B) string {
	return os.Getenv("GOKMOD_VM_DISTRIBUTION") + " " + release(b)
}

func benchContenders(b *testing.B, names []string, cs []contender) {
	total := make([]time.Duration, len(cs))
	cpu := make([]time.Duration, len(cs))
	vcsw := make([]int64, len(cs))
	ratios := make([][]float64, len(cs))
	want := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		times := make([]time.Duration, len(cs))
		for j, c := range cs {
			b.StopTimer()
			unloadAll(b)
			args := append(append([]string(nil), c.args...), names...)
			cmd := exec.Command(c.bin, args...)
			cmd.Env = toolEnv(b, c.env...)
			b.StartTimer()
			start := time.Now()
			out, err := cmd.CombinedOutput()
			times[j] = time.Since(start)
			total[j] += times[j]
			b.StopTimer()
			if err != nil {
				b.Fatalf("%s %v: %v\n%s", c.bin, args, err, out)
			}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				cpu[j] += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
				vcsw[j] += ru.Nvcsw
			}
			n := len(liveModules(b))
			if want == 0 {
				want = n
			} else if n != want {
				b.Fatalf("%s loaded %d modules, earlier %d", c.name, n, want)
			}
			b.StartTimer()
		}
		for j := 1; j < len(cs); j++ {
			ratios[j] = append(ratios[j], float64(times[j])/float64(times[0]))
		}
	}
	b.StopTimer()
	for j, c := range cs {
		b.ReportMetric(float64(cpu[j].Milliseconds())/float64(b.N), c.name+"-cpu-ms/op")
		b.ReportMetric(float64(vcsw[j])/float64(b.N), c.name+"-vcsw/op")
	}
	reportTimes(b, cs, total, ratios)
	b.ReportMetric(float64(want), "modules")
}

// reportTimes reports each contender's mean time as NAME-ms/op and, for
// all but the first, the ratio of its total time to the first's as
// NAME/FIRST with the median, least and greatest of the iterations'
// ratios (ratios[j]) as NAME/FIRST-med, -min and -max.
func reportTimes(b *testing.B, cs []contender, total []time.Duration, ratios [][]float64) {
	for j, c := range cs {
		b.ReportMetric(float64(total[j].Milliseconds())/float64(b.N), c.name+"-ms/op")
		if j > 0 {
			ratio := c.name + "/" + cs[0].name
			b.ReportMetric(float64(total[j])/float64(total[0]), ratio)
			r := slices.Sorted(slices.Values(ratios[j]))
			b.ReportMetric((r[(len(r)-1)/2]+r[len(r)/2])/2, ratio+"-med")
			b.ReportMetric(r[0], ratio+"-min")
			b.ReportMetric(r[len(r)-1], ratio+"-max")
		}
	}
}

// The contenders: kmod's modprobe; gokmod's modprobe (the command's path,
// "cli"); libmodprobe, a program that loads through the library with its
// defaults ("library"); each of the last two also with 2 jobs.
var (
	modprobeA    = []string{"-a"}
	kmodModprobe = contender{name: "kmod", bin: "/sbin/modprobe", args: modprobeA}
	cliModprobe  = contender{name: "cli", bin: "/gokmod/modprobe", args: modprobeA}
	cliJobs2     = contender{name: "cli-jobs2", bin: "/gokmod/modprobe", args: modprobeA, env: []string{"GOKMOD_JOBS=2"}}
	libModprobe  = contender{name: "library", bin: "/bin/libmodprobe", args: []string{"-j", "1"}}
	libJobs2     = contender{name: "library-jobs2", bin: "/bin/libmodprobe", args: []string{"-j", "2"}}
)

func BenchmarkStack(b *testing.B) {
	vmtest.RequireGuest(b)
	benchModprobe(b, stackModules, kmodModprobe, cliModprobe, libModprobe)
}

func BenchmarkLoadAll(b *testing.B) {
	vmtest.RequireGuest(b)
	benchModprobe(b, independentModules(b), kmodModprobe, cliModprobe, cliJobs2, libModprobe, libJobs2)
}

// BenchmarkStartup times a process that loads nothing under the
// emulator: modprobe -D of the stack (resolution only, as the host's
// modprobe -D row), by kmod and gokmod, and /bin/true for the floor of a
// process start. It tells how much of a load's time outside the kernel
// is the process's start.
func BenchmarkStartup(b *testing.B) {
	vmtest.RequireGuest(b)
	dryRun := []string{"-D"}
	benchModprobe(b, stackModules[:1],
		contender{name: "kmod", bin: "/sbin/modprobe", args: dryRun},
		contender{name: "cli", bin: "/gokmod/modprobe", args: dryRun},
		contender{name: "true", bin: "/bin/true"})
}

// BenchmarkModulesLoad times the boot-time list of a system without
// udev: systemd-modules-load (Debian 12's, which loads one name after
// the other) and gokmod modules-load (in parallel, and with one job) on
// a modules-load.d file naming the NLS modules and the stack.
func BenchmarkModulesLoad(b *testing.B) {
	vmtest.RequireGuest(b)
	names := append(independentModules(b), stackModules...)
	conf := "/etc/modules-load.d/bench.conf"
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		b.Fatal(err)
	}
	data := strings.Join(names, "\n") + "\n"
	if err := os.WriteFile(conf, []byte(data), 0o644); err != nil {
		b.Fatal(err)
	}
	defer os.Remove(conf)
	benchModprobe(b, nil,
		contender{name: "systemd", bin: systemdModulesLoad},
		contender{name: "gokmod", bin: "/bin/gokmod", args: []string{"modules-load"}},
		contender{name: "gokmod-jobs1", bin: "/bin/gokmod", args: []string{"modules-load"}, env: []string{"GOKMOD_JOBS=1"}})
}

// coldplugTarget returns the modules a first gokmod coldplug from an
// empty kernel leaves live after a quiet while: the set the coldplug
// benchmarks wait for.
func coldplugTarget(b *testing.B) []string {
	b.Helper()
	unloadAll(b)
	if out, err := exec.Command("/bin/gokmod", "coldplug").CombinedOutput(); err != nil {
		b.Fatalf("gokmod coldplug: %v\n%s", err, out)
	}
	time.Sleep(2 * time.Second)
	return liveModules(b)
}

// BenchmarkColdplug times a boot's coldplug of the guest's devices, from
// the start to the moment the last module is live (the set a first
// gokmod coldplug left after a quiet while; /proc/modules polled every
// 10 ms): systemd-udevd (/bin/udev-coldplug: start, trigger, settle; the
// rules that load drivers) and gokmod coldplug. Each iteration runs each
// contender from an empty kernel.
func BenchmarkColdplug(b *testing.B) {
	vmtest.RequireGuest(b)
	distro := os.Getenv("GOKMOD_VM_DISTRIBUTION")
	b.Run("distro="+distro, func(b *testing.B) {
		b.Run("kernel="+release(b), func(b *testing.B) {
			target := strings.Join(coldplugTarget(b), ",")
			cs := []contender{
				{name: "udev", bin: "/bin/udev-coldplug"},
				{name: "gokmod", bin: "/bin/gokmod", args: []string{"coldplug"}},
			}
			total := make([]time.Duration, len(cs))
			ratios := make([][]float64, len(cs))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				times := make([]time.Duration, len(cs))
				for j, c := range cs {
					b.StopTimer()
					unloadAll(b)
					cmd := exec.Command(c.bin, c.args...)
					cmd.Env = toolEnv(b, c.env...)
					var out bytes.Buffer
					cmd.Stdout, cmd.Stderr = &out, &out
					b.StartTimer()
					start := time.Now()
					if err := cmd.Start(); err != nil {
						b.Fatal(err)
					}
					for strings.Join(liveModules(b), ",") != target {
						if time.Since(start) > 2*time.Minute {
							b.Fatalf("%s: after 2 minutes live %v, want %s\n%s", c.name, liveModules(b), target, out.String())
						}
						time.Sleep(10 * time.Millisecond)
					}
					times[j] = time.Since(start)
					b.StopTimer()
					if err := cmd.Wait(); err != nil {
						b.Fatalf("%s: %v\n%s", c.name, err, out.String())
					}
					if got := strings.Join(liveModules(b), ","); got != target {
						b.Fatalf("%s left %s, want %s", c.name, got, target)
					}
					total[j] += times[j]
					b.StartTimer()
				}
				for j := 1; j < len(cs); j++ {
					ratios[j] = append(ratios[j], float64(times[j])/float64(times[0]))
				}
			}
			b.StopTimer()
			reportTimes(b, cs, total, ratios)
			b.ReportMetric(float64(len(strings.Split(target, ","))), "modules")
		})
	})
}
