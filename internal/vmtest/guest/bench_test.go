//go:build vmguest

package guest

import (
	"os/exec"
	"path/filepath"
	"sort"
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

// contender is one way of running modprobe -a.
type contender struct {
	name string
	bin  string
	env  []string
}

// benchModprobe times `modprobe -a names...` by each contender, from an
// empty kernel each time. The contenders take turns within every
// iteration, so that drifts in the emulator's speed weigh on all alike;
// each one's mean time is reported as NAME-ms/op, and the ratio of each
// to the first as NAME/FIRST.
func benchModprobe(b *testing.B, names []string, cs ...contender) {
	args := append([]string{"-a"}, names...)
	total := make([]time.Duration, len(cs))
	want := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, c := range cs {
			b.StopTimer()
			unloadAll(b)
			cmd := exec.Command(c.bin, args...)
			cmd.Env = toolEnv(b, c.env...)
			b.StartTimer()
			start := time.Now()
			out, err := cmd.CombinedOutput()
			total[j] += time.Since(start)
			b.StopTimer()
			if err != nil {
				b.Fatalf("%s %v: %v\n%s", c.bin, args, err, out)
			}
			n := len(liveModules(b))
			if want == 0 {
				want = n
			} else if n != want {
				b.Fatalf("%s loaded %d modules, earlier %d", c.name, n, want)
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	for j, c := range cs {
		b.ReportMetric(float64(total[j].Milliseconds())/float64(b.N), c.name+"-ms/op")
		if j > 0 {
			b.ReportMetric(float64(total[j])/float64(total[0]), c.name+"/"+cs[0].name)
		}
	}
	b.ReportMetric(float64(want), "modules")
}

var (
	kmodModprobe   = contender{"kmod", "/sbin/modprobe", nil}
	gokmodModprobe = contender{"gokmod", "/gokmod/modprobe", nil}
	gokmodJobs2    = contender{"gokmod-jobs2", "/gokmod/modprobe", []string{"GOKMOD_JOBS=2"}}
)

func BenchmarkStack(b *testing.B) {
	vmtest.RequireGuest(b)
	benchModprobe(b, stackModules, kmodModprobe, gokmodModprobe)
}

func BenchmarkLoadAll(b *testing.B) {
	vmtest.RequireGuest(b)
	benchModprobe(b, independentModules(b), kmodModprobe, gokmodModprobe, gokmodJobs2)
}
