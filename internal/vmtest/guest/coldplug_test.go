//go:build vmguest

package guest

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// modaliases returns the MODALIAS of every device below /sys/devices, as
// udev sees them in the devices' uevent files.
func modaliases(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	filepath.WalkDir("/sys/devices", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "uevent" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			if v, ok := bytes.CutPrefix(line, []byte("MODALIAS=")); ok && len(v) > 0 {
				out[string(v)] = true
			}
		}
		return nil
	})
	return out
}

// TestColdplugMatchKmod loads the drivers of the guest's devices (virtio,
// e1000, USB storage and tablet, HD audio, the PC's input and platform
// devices) with gokmod coldplug, and with kmod's modprobe -a -b -q of
// every MODALIAS, again for the aliases of the devices the loads bring,
// until none appears for a second (what udev's kmod builtin does with
// the events): the same modules must be live.
func TestColdplugMatchKmod(t *testing.T) {
	freshKernel(t)
	start := time.Now()
	cmd := exec.Command("/bin/gokmod", "coldplug", "-v")
	cmd.Env = toolEnv(t)
	out, err := cmd.CombinedOutput()
	ours := time.Since(start)
	if err != nil {
		t.Fatalf("gokmod coldplug: %v\n%s", err, out)
	}
	// Devices a load brings late (a USB device's interfaces) are the
	// coldplug's to find: wait as long as kmod's loop does, then look.
	time.Sleep(time.Second)
	got := liveModules(t)
	t.Logf("gokmod coldplug: %v, %d modules\n%s", ours.Round(time.Millisecond), len(got), out)

	unloadAll(t)
	start = time.Now()
	seen := map[string]bool{}
	quietSince := time.Now()
	for time.Since(quietSince) < time.Second {
		var fresh []string
		for a := range modaliases(t) {
			if !seen[a] {
				seen[a] = true
				fresh = append(fresh, a)
			}
		}
		if len(fresh) == 0 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		cmd := exec.Command("/sbin/modprobe", append([]string{"-a", "-b", "-q"}, fresh...)...)
		cmd.Env = toolEnv(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("kmod modprobe -a -b -q: %v\n%s", err, out)
		}
		quietSince = time.Now()
	}
	theirs := time.Since(start) - time.Second
	want := liveModules(t)
	t.Logf("kmod loop: %v, %d modules, %d aliases", theirs.Round(time.Millisecond), len(want), len(seen))
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("gokmod coldplug loaded %v\nkmod loaded %v", got, want)
	}
	if len(want) < 5 {
		t.Errorf("only %d modules for the guest's devices: %v", len(want), want)
	}
}
