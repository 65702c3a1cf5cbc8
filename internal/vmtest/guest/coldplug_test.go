//go:build vmguest

package guest

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
// the events), then of ppdev if parport_pc is live (the one rule of
// 80-drivers.rules the guest's devices meet): the same modules must be
// live.
//
// kmod's loop knows no udev rule, so Debian's sg rule, which gokmod
// coldplug follows where udev's rules have it, is masked as systemd
// masks a rules file: a link to /dev/null in /etc/udev/rules.d.
func TestColdplugMatchKmod(t *testing.T) {
	freshKernel(t)
	mask := "/etc/udev/rules.d/80-debian-compat.rules"
	if err := os.MkdirAll("/etc/udev/rules.d", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", mask); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(mask)
	start := time.Now()
	cmd := exec.Command("/bin/gokmod", "coldplug", "-v")
	cmd.Env = toolEnv(t)
	out, err := cmd.CombinedOutput()
	ours := time.Since(start)
	if err != nil {
		t.Fatalf("gokmod coldplug: %v\n%s", err, out)
	}
	// Devices that come after it ended are the coldplug's misses: look
	// once nothing changes any more.
	got := stableModules(t)
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
	// udev's 80-drivers.rules: ppdev once parport_pc is loaded.
	if live(t, "parport_pc") {
		cmd := exec.Command("/sbin/modprobe", "-b", "-q", "ppdev")
		cmd.Env = toolEnv(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("kmod modprobe -b -q ppdev: %v\n%s", err, out)
		}
	}
	theirs := time.Since(start) - time.Second
	want := stableModules(t)
	t.Logf("kmod loop: %v, %d modules, %d aliases", theirs.Round(time.Millisecond), len(want), len(seen))
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("gokmod coldplug loaded %v\nkmod loaded %v", got, want)
	}
	if len(want) < 5 {
		t.Errorf("only %d modules for the guest's devices: %v", len(want), want)
	}
}

// TestColdplugMatchUdev compares gokmod coldplug with Debian's
// systemd-udevd doing its boot-time coldplug (udevadm trigger
// --action=add, then udevadm settle) with the rules that load drivers
// (80-drivers.rules, which loads ppdev once parport_pc is, and Debian's
// 80-debian-compat.rules, which loads sg for the USB disk's SCSI device):
// the same modules must be live, ppdev and sg among them.
func TestColdplugMatchUdev(t *testing.T) {
	freshKernel(t)
	start := time.Now()
	run(t, "/bin/gokmod", "coldplug")
	ours := time.Since(start)
	got := stableModules(t)

	unloadAll(t)
	theirs, want := udevColdplug(t)
	t.Logf("gokmod coldplug %v, udev %v: %d modules", ours.Round(time.Millisecond), theirs.Round(time.Millisecond), len(got))
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("gokmod coldplug loaded %v\nudev loaded %v", got, want)
	}
	// The rules beyond MODALIAS the guest's devices meet.
	for _, m := range []string{"sg", "ppdev"} {
		if !slices.Contains(got, m) {
			t.Errorf("gokmod coldplug did not load %s: %v", m, got)
		}
	}
}

// udevColdplug runs systemd-udevd's coldplug from an empty kernel and
// returns how long trigger and settle took and the modules then live; the
// daemon is stopped before it returns.
func udevColdplug(t testing.TB) (time.Duration, []string) {
	t.Helper()
	for _, d := range []string{"/run/udev", "/etc/udev"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	daemon := exec.Command("/usr/lib/systemd/systemd-udevd")
	daemon.Env = toolEnv(t, "SYSTEMD_LOG_LEVEL=warning")
	var dout bytes.Buffer
	daemon.Stdout, daemon.Stderr = &dout, &dout
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		exec.Command("/usr/bin/udevadm", "control", "--exit").Run()
		daemon.Wait()
	}()
	// The control socket is there once the daemon listens.
	for i := 0; ; i++ {
		if _, err := os.Stat("/run/udev/control"); err == nil {
			break
		}
		if i > 200 {
			t.Fatalf("systemd-udevd did not start:\n%s", dout.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
	start := time.Now()
	udevadm := func(args ...string) {
		cmd := exec.Command("/usr/bin/udevadm", args...)
		cmd.Env = toolEnv(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("udevadm %s: %v\n%s\n%s", strings.Join(args, " "), err, out, dout.String())
		}
	}
	udevadm("trigger", "--type=subsystems", "--action=add")
	udevadm("trigger", "--type=devices", "--action=add")
	udevadm("settle", "--timeout=120")
	took := time.Since(start)
	// The daemon goes on loading for devices that come late.
	return took, stableModules(t)
}

// stableModules returns the live modules once they have not changed for
// three seconds (a USB disk's SCSI device comes a second after it).
func stableModules(t testing.TB) []string {
	t.Helper()
	last, since := strings.Join(liveModules(t), ","), time.Now()
	for time.Since(since) < 3*time.Second {
		time.Sleep(100 * time.Millisecond)
		if now := strings.Join(liveModules(t), ","); now != last {
			last, since = now, time.Now()
		}
	}
	return liveModules(t)
}
