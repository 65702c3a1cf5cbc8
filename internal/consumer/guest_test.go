//go:build vmguest

package consumer_test

// The three programs' steps on a real kernel: the guest suite of gokmod's
// VM tests (internal/vmtest/guest, TestConsumerPrograms) runs this test
// binary, built with the race detector and the oldest supported Go, on
// Debian 12's and Debian 13's kernels, with the modules of the running
// system. Nothing here is faked: the Loaders are opened as a consumer
// opens them, on / and on the second tree the guest image carries.

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/consumer"
	"github.com/gokmod/modprobe"
)

// guestEnv is set by the guest suite; without it this binary is not in
// a guest whose kernel it may load modules into.
const guestEnv = "GOKMOD_CONSUMER_GUEST"

// realLoader opens a Loader on the running system (or on root) with the
// library's defaults, as a consumer would.
func realLoader(t *testing.T, root string) *modprobe.Loader {
	t.Helper()
	if os.Getenv(guestEnv) != "1" {
		t.Fatalf("%s is not 1: this test loads modules into the running kernel and runs only in gokmod's VM suite", guestEnv)
	}
	l, err := modprobe.Open(modprobe.Options{RootDir: root})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// liveSet returns the names of the modules in /proc/modules.
func liveSet(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("/proc/modules")
	require.NoError(t, err)
	live := map[string]bool{}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) > 0 {
			live[f[0]] = true
		}
	}
	return live
}

// isLive reports whether the kernel shows module name as live.
func isLive(name string) bool {
	b, err := os.ReadFile("/sys/module/" + name + "/initstate")
	return err == nil && string(b) == "live\n"
}

// inserted returns the modules live now that were not in before, sorted.
func inserted(t *testing.T, before map[string]bool) []string {
	t.Helper()
	var added []string
	for name := range liveSet(t) {
		if !before[name] {
			added = append(added, name)
		}
	}
	slices.Sort(added)
	return added
}

// recorder keeps what Show reports, without a lock of its own (Show's
// calls never overlap, which the race detector checks).
type recorder struct{ actions []modprobe.Action }

func (r *recorder) show(a modprobe.Action) { r.actions = append(r.actions, a) }

// inserts returns the kernel names of the modules Show reported
// inserting, sorted.
func (r *recorder) inserts() []string {
	var names []string
	for _, a := range r.actions {
		if a.Kind == modprobe.ActionInsert {
			names = append(names, kernelName(a.Module))
		}
	}
	slices.Sort(names)
	return names
}

// kernelName is name as /proc/modules spells it.
func kernelName(name string) string { return strings.ReplaceAll(name, "-", "_") }

func TestGuestKataModules(t *testing.T) {
	l := realLoader(t, "")
	before := liveSet(t)
	var g recorder
	err := consumer.LoadKataModules(context.Background(), l, []string{"dummy numdummies=2", "ip_vs_wrr"}, g.show)
	require.NoError(t, err)
	for i := range 2 {
		_, err := os.Stat(fmt.Sprintf("/sys/class/net/dummy%d", i))
		assert.NoError(t, err, "numdummies=2 reached the kernel")
	}
	assert.True(t, isLive("ip_vs_wrr"), "ip_vs_wrr live")
	assert.Equal(t, inserted(t, before), g.inserts(), "Show reported each module the kernel took, once")

	// A missing entry stops the list and says so as kmod would.
	err = consumer.LoadKataModules(context.Background(), l, []string{"no_such_module", "ip_vs_rr"}, nil)
	var me *modprobe.ModuleError
	require.ErrorAs(t, err, &me)
	assert.ErrorIs(t, err, modprobe.ErrNotFound)
	assert.Equal(t, "no_such_module", me.Module)
	assert.False(t, isLive("ip_vs_rr"), "nothing past the failing entry is loaded")
}

func TestGuestHookModulesEightJobs(t *testing.T) {
	l := realLoader(t, "")
	names := strings.Fields(os.Getenv("GOKMOD_CONSUMER_MODULES"))
	require.GreaterOrEqual(t, len(names), 20, "GOKMOD_CONSUMER_MODULES names the modules to load")
	before := liveSet(t)
	var g recorder
	env := []string{"PATH=/bin", "KERNEL_MODULES=" + strings.Join(names, ",") + ",no_such_module"}
	failures := consumer.LoadHookModules(context.Background(), l, env, g.show)
	require.Len(t, failures, 1, "only the missing module fails: %v", failures)
	assert.ErrorIs(t, failures[0], modprobe.ErrNotFound)
	assert.Equal(t, "no_such_module", failures[0].Module)
	for _, n := range names {
		assert.True(t, isLive(kernelName(n)), "%s live", n)
	}
	assert.Equal(t, inserted(t, before), g.inserts(), "Show reported each module the kernel took, once")
}

func TestGuestKMMWorkerStep(t *testing.T) {
	alt := os.Getenv("GOKMOD_CONSUMER_IMAGE_TREE")
	require.NotEmpty(t, alt, "GOKMOD_CONSUMER_IMAGE_TREE names the image's tree")
	host, image := realLoader(t, ""), realLoader(t, alt)
	ctx := context.Background()
	require.NoError(t, host.Load(ctx, "dummy"))
	require.True(t, isLive("dummy"))

	// The image's tree holds its modules in a format this kernel does
	// not decompress: the library decompresses them itself.
	err := consumer.LoadFromImageTree(ctx, host, image, []string{"dummy", "no_such_module"}, "macvtap")
	require.NoError(t, err)
	assert.False(t, isLive("dummy"), "the in-tree module was removed")
	for _, n := range []string{"macvtap", "macvlan", "tap"} {
		assert.True(t, isLive(n), "%s live", n)
	}
	// Loaded: the step again is a success that changes nothing.
	require.NoError(t, consumer.LoadFromImageTree(ctx, host, image, nil, "macvtap"))
	err = image.Remove(ctx, "macvtap")
	require.NoError(t, err)
	assert.False(t, isLive("macvtap"))
	// Not loaded: nothing to do, as modprobe -r; a first-time removal
	// says so.
	assert.NoError(t, image.Remove(ctx, "macvtap"))
	err = image.RemoveWith(ctx, []string{"macvtap"}, modprobe.RemoveOptions{FirstTime: true})
	assert.ErrorIs(t, err, modprobe.ErrNotLoaded, "a first-time removal of a module not loaded")
}
