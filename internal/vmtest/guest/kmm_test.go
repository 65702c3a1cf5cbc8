//go:build vmguest

package guest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/vmtest"
)

// TestKMMWorker runs gokmod's KMM worker on a kmod image that the host
// pushed to a real registry and pulled with kmodimage (vm_test.go
// kmmFiles): the image holds Debian's dummy, nls_utf8 and nls_cp437 with
// depmod's indexes and a firmware file, below /testdata/kmm/shared.
func TestKMMWorker(t *testing.T) {
	freshKernel(t)
	const dir = vmtest.TestdataDir + "/kmm"
	run(t, "/sbin/modprobe", "ip_vs_rr")
	args := []string{"--shared-dir", dir + "/shared", "--firmware-path", dir + "/host-firmware"}
	out := run(t, "/bin/gokmod", append([]string{"kmm", "load", dir + "/config.yaml"}, args...)...)
	t.Logf("kmm load:\n%s", out)
	// In-tree ip_vs_rr and the ip_vs it held are removed; the order's
	// modules load last first, from the image's tree.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[len(lines)-3], "insmod "+dir+"/shared/opt/lib/modules/") ||
		!strings.Contains(lines[len(lines)-3], "/nls_cp437.ko") || !strings.Contains(lines[len(lines)-1], "/dummy"+treeSuffix(t)+" numdummies=2") {
		t.Errorf("kmm load printed:\n%s", out)
	}
	if live(t, "ip_vs_rr") || live(t, "ip_vs") {
		t.Error("in-tree ip_vs_rr (or ip_vs) still loaded")
	}
	for _, m := range []string{"dummy", "nls_utf8", "nls_cp437"} {
		if !live(t, m) {
			t.Errorf("%s not live", m)
		}
	}
	if got := dummies(t); got != "dummy0,dummy1" {
		t.Errorf("devices %s; want numdummies=2", got)
	}
	if got := param(t, "firmware_class", "path"); got != dir+"/host-firmware" {
		t.Errorf("firmware_class.path = %q", got)
	}
	if got := readFile(t, dir+"/host-firmware/gokmod/test.bin"); got != "gokmod firmware\n" {
		t.Errorf("firmware copied: %q", got)
	}

	// KMM's pod runs the worker binary itself: "worker kmod unload".
	out = run(t, "/bin/worker", append([]string{"kmod", "unload", dir + "/config.yaml"}, args...)...)
	for _, m := range []string{"dummy", "nls_utf8", "nls_cp437"} {
		if live(t, m) {
			t.Errorf("%s still live after unload:\n%s", m, out)
		}
	}
	if exists(t, dir+"/host-firmware/gokmod/test.bin") || !exists(t, dir+"/host-firmware/gokmod") {
		t.Error("unload must remove the firmware files and keep the directories")
	}

	// In-tree module in use: the load fails before anything else.
	run(t, "/sbin/modprobe", "ip_vs_rr")
	run(t, "/sbin/modprobe", "ip_vs_wrr")
	cmd := exec.Command("/bin/gokmod", append([]string{"kmm", "load", dir + "/config-inuse.yaml"}, args...)...)
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "could not remove in-tree modules ip_vs") || !strings.Contains(string(b), "in use") {
		t.Fatalf("in use: %v\n%s", err, b)
	}
	if live(t, "dummy") || !live(t, "ip_vs") {
		t.Error("the failed load changed the kernel")
	}
}
