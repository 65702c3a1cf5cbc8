//go:build vmguest

package guest

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/gokmod/modprobe"
)

// RawKernel, the commands' way to the kernel offered to short-lived
// programs, loads the same modules as the default Kernel and kmod.
func TestRawKernelLoadsChain(t *testing.T) {
	freshKernel(t)
	run(t, "/sbin/modprobe", "ip_vs_wrr")
	want := liveModules(t)
	unloadAll(t)
	l, err := modprobe.Open(modprobe.Options{Kernel: modprobe.RawKernel{}, Compat: compat(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Load(context.Background(), "ip_vs_wrr"); err != nil {
		t.Fatal(err)
	}
	if got := liveModules(t); !slices.Equal(got, want) {
		t.Errorf("RawKernel loaded %v, kmod %v", got, want)
	}
}

// libmodprobe, the benchmarks' library contender, loads what kmod's
// modprobe -a loads, in parallel too.
func TestLibmodprobeLoadsLikeKmod(t *testing.T) {
	freshKernel(t)
	names := []string{"ip_vs_wrr", "dummy", "nls_utf8"}
	run(t, "/sbin/modprobe", append([]string{"-a"}, names...)...)
	want := liveModules(t)
	for _, jobs := range []string{"1", "2"} {
		unloadAll(t)
		cmd := exec.Command("/bin/libmodprobe", append([]string{"-j", jobs}, names...)...)
		cmd.Env = toolEnv(t)
		if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
			t.Fatalf("libmodprobe -j %s %s: %v\n%s", jobs, strings.Join(names, " "), err, out)
		}
		if got := liveModules(t); !slices.Equal(got, want) {
			t.Errorf("libmodprobe -j %s loaded %v, kmod %v", jobs, got, want)
		}
	}
}
