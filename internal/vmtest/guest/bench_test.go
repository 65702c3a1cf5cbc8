//go:build vmguest

package guest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

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
	rel := strings.TrimSpace(readFileB(b, "/proc/sys/kernel/osrelease"))
	paths, err := filepath.Glob("/lib/modules/" + rel + "/kernel/fs/nls/*.ko")
	if err != nil || len(paths) < 20 {
		b.Fatalf("%d NLS modules in the image (%v), want at least 20", len(paths), err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".ko"))
	}
	sort.Strings(names)
	return names
}

func readFileB(b *testing.B, name string) string {
	b.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		b.Fatal(err)
	}
	return string(data)
}

// benchModprobe times `modprobe -a names...` by the given binary, from an
// empty kernel each time, and checks that every module went in.
func benchModprobe(b *testing.B, bin string, env []string, names []string) {
	args := append([]string{"-a"}, names...)
	var want int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		unloadAllB(b)
		b.StartTimer()
		cmd := exec.Command(bin, args...)
		cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s %v: %v\n%s", bin, args, err, out)
		}
		b.StopTimer()
		n := len(procModules(b))
		if want == 0 {
			want = n
		} else if n != want {
			b.Fatalf("%s loaded %d modules, earlier %d", bin, n, want)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(want), "modules")
}

func BenchmarkStack(b *testing.B) {
	vmtest.RequireGuest(b)
	b.Run("kmod", func(b *testing.B) { benchModprobe(b, "/sbin/modprobe", nil, stackModules) })
	b.Run("gokmod", func(b *testing.B) { benchModprobe(b, "/gokmod/modprobe", nil, stackModules) })
}

func BenchmarkLoadAll(b *testing.B) {
	vmtest.RequireGuest(b)
	names := independentModules(b)
	b.Run("kmod", func(b *testing.B) { benchModprobe(b, "/sbin/modprobe", nil, names) })
	b.Run("gokmod", func(b *testing.B) { benchModprobe(b, "/gokmod/modprobe", nil, names) })
	b.Run("gokmod-jobs2", func(b *testing.B) { benchModprobe(b, "/gokmod/modprobe", []string{"GOKMOD_JOBS=2"}, names) })
}

func procModules(b *testing.B) []string {
	var names []string
	for _, line := range strings.Split(readFileB(b, "/proc/modules"), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

func unloadAllB(b *testing.B) {
	for range 40 {
		mods := procModules(b)
		if len(mods) == 0 {
			return
		}
		for _, m := range mods {
			_ = deleteModule(m)
		}
	}
	b.Fatalf("modules left: %v", procModules(b))
}
