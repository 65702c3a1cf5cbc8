//go:build vmguest

package guest

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/coldplug"
	"github.com/gokmod/modprobe/internal/vmtest"
	"github.com/gokmod/modprobe/modulesload"
)

// hotplugDevice is the device the hotplug tests have the host add through
// qemu's monitor (vmtest.HotplugDevices), and hotplugDriver its driver: a
// module on both kernels that no boot device needs.
const hotplugDevice, hotplugDriver = "e1000e", "e1000e"

// hotplugWait bounds the wait for the added device's driver: a generous
// failure, not a timed assertion (the device comes through ACPI under
// TCG, its driver pulls in ptp).
const hotplugWait = 3 * time.Minute

// TestHotplug has the host add a PCI network card (e1000e) through
// qemu's monitor while gokmod watches the kernel's uevents, the binary
// (gokmod coldplug --watch, after its coldplug of the boot devices) and
// the library (coldplug.Listen and Watch): the card's driver must load,
// named by the watcher's report, and the modules that appear must be
// exactly what kmod resolves the card's MODALIAS to (modprobe -R, as
// udev's kmod builtin) with its dependencies (modprobe -D).
func TestHotplug(t *testing.T) {
	t.Run("gokmod", func(t *testing.T) {
		freshKernel(t)
		ctx, cancel := context.WithTimeout(context.Background(), hotplugWait)
		defer cancel()
		cmd := exec.Command("/bin/gokmod", "coldplug", "--watch", "-v")
		cmd.Env = toolEnv(t)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		stopped := false
		stop := func() {
			if !stopped {
				stopped = true
				cmd.Process.Signal(syscall.SIGTERM)
				for range lines {
				}
				// SIGTERM ends the watch; the coldplug succeeded.
				assert.NoError(t, cmd.Wait(), "gokmod coldplug --watch's end with SIGTERM:\n%s", stderr.String())
			}
		}
		defer stop()
		var out []string
		next := func(what string) string {
			t.Helper()
			select {
			case l, ok := <-lines:
				if !ok {
					stop()
					t.Fatalf("gokmod coldplug --watch ended before %s:\n%s", what, strings.Join(out, "\n"))
				}
				out = append(out, l)
				return l
			case <-ctx.Done():
				t.Fatalf("no %s from gokmod coldplug --watch after %v:\n%s", what, hotplugWait, strings.Join(out, "\n"))
			}
			return ""
		}
		for next("start of the watch") != "watching for devices" {
		}
		// A boot device that comes late (an HD Audio codec probed in
		// the background under a slow emulator) is the watch's too:
		// wait until nothing changes.
		before := stableModules(t)
		require.NotContains(t, before, hotplugDriver, "the coldplug of the boot devices")
		require.NoError(t, vmtest.RequestDevice(hotplugDevice))
		waitModule(t, ctx, hotplugDriver)
		// The report's line: "/devices/...: e1000e inserted".
		line := regexp.MustCompile(`^(/devices/\S+) (pci:\S+): (.*\b` + hotplugDriver + ` inserted.*)$`)
		var m []string
		for m == nil {
			m = line.FindStringSubmatch(next("report of " + hotplugDriver))
		}
		t.Logf("gokmod coldplug --watch: %s", m[0])
		after := stableModules(t)
		stop()
		checkHotplugLoads(t, m[2], before, after)
	})

	t.Run("library", func(t *testing.T) {
		freshKernel(t)
		ctx, cancel := context.WithTimeout(context.Background(), hotplugWait)
		defer cancel()
		l := loader(t)
		ln, err := coldplug.Listen()
		require.NoError(t, err)
		defer ln.Close()
		events := make(chan coldplug.Event, 64)
		watched := make(chan error, 1)
		watchCtx, stopWatch := context.WithCancel(ctx)
		go func() {
			watched <- ln.Watch(watchCtx, l, coldplug.Options{}, func(ev coldplug.Event) { events <- ev })
		}()
		before := liveModules(t)
		require.NoError(t, vmtest.RequestDevice(hotplugDevice))
		waitModule(t, ctx, hotplugDriver)
		var ev coldplug.Event
		for ev.Modalias == "" {
			select {
			case e := <-events:
				t.Logf("event %s %s: %+v, unmatched %v, error %v", e.Devpath, e.Modalias, e.Modules, e.Unmatched, e.Err)
				if slices.ContainsFunc(e.Modules, func(r modulesload.Result) bool {
					return r.Module == hotplugDriver && r.Status == modulesload.Inserted
				}) {
					ev = e
				}
			case err := <-watched:
				t.Fatalf("Watch ended before the device's event: %v", err)
			case <-ctx.Done():
				t.Fatalf("no event inserting %s after %v", hotplugDriver, hotplugWait)
			}
		}
		require.NoError(t, ev.Err)
		assert.True(t, strings.HasPrefix(ev.Modalias, "pci:"), ev.Modalias)
		after := stableModules(t)
		stopWatch()
		require.NoError(t, <-watched, "Watch's end with its context")
		checkHotplugLoads(t, ev.Modalias, before, after)
	})
}

// waitModule waits until module name is in /sys/module, failing the
// test when ctx ends first.
func waitModule(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	for {
		if _, err := os.Stat("/sys/module/" + name); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not load: %v", name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkHotplugLoads checks that the modules that appeared between before
// and after are those kmod loads for modalias: the modules it resolves
// to (modprobe -R, what udev's kmod builtin looks up) and their
// dependencies (modprobe -D), less those that were live.
func checkHotplugLoads(t *testing.T, modalias string, before, after []string) {
	t.Helper()
	cmd := exec.Command("/sbin/modprobe", "-R", modalias)
	cmd.Env = toolEnv(t)
	resolved, err := cmd.Output()
	require.NoError(t, err, "kmod's modprobe -R %s", modalias)
	assert.Equal(t, []string{hotplugDriver}, strings.Fields(string(resolved)), "kmod's resolution of %s", modalias)
	cmd = exec.Command("/sbin/modprobe", "-D", "-b", modalias)
	cmd.Env = toolEnv(t)
	deps, err := cmd.Output()
	require.NoError(t, err, "kmod's modprobe -D %s", modalias)
	want := []string{}
	for line := range strings.Lines(string(deps)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "insmod" {
			if name := strings.ReplaceAll(baseName(f[1]), "-", "_"); !slices.Contains(before, name) {
				want = append(want, name)
			}
		}
	}
	slices.Sort(want)
	got := []string{}
	for _, m := range after {
		if !slices.Contains(before, m) {
			got = append(got, m)
		}
	}
	t.Logf("loaded for %s: %v", modalias, got)
	assert.Equal(t, want, got, "modules loaded for %s (kmod's modprobe -D:\n%s)", modalias, deps)
	assert.Contains(t, got, hotplugDriver)
}
