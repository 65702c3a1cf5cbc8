package coldplug_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/coldplug"
	"github.com/gokmod/modprobe/modprobetest"
	"github.com/gokmod/modprobe/modulesload"
)

// device writes a device directory with a uevent file below the fake
// kernel's sysfs.
func device(t *testing.T, sysfs, path, modalias string) {
	t.Helper()
	dir := filepath.Join(sysfs, "devices", path)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	uevent := "DRIVER=\n"
	if modalias != "" {
		uevent += "MODALIAS=" + modalias + "\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "uevent"), []byte(uevent), 0o644))
}

func TestRun(t *testing.T) {
	root := t.TempDir()
	_, err := modprobetest.WriteTree(root, "6.12.0",
		modprobetest.Module{Name: "virtio_pci", Aliases: []string{"pci:v00001AF4d*sv*sd*bc*sc*i*"}},
		modprobetest.Module{Name: "net_failover"},
		modprobetest.Module{Name: "virtio_net", Depends: []string{"net_failover"}, Aliases: []string{"virtio:d00000001v*"}},
		modprobetest.Module{Name: "e1000", Aliases: []string{"pci:v00008086d0000100Esv*sd*bc*sc*i*"}},
		modprobetest.Module{Name: "snd_hda_intel", Aliases: []string{"pci:v00008086d00002668sv*sd*bc*sc*i*"}},
		modprobetest.Module{Name: "broken", Aliases: []string{"platform:broken"}},
		modprobetest.Module{Name: "rtc_cmos", Builtin: true},
	)
	require.NoError(t, err)
	conf := filepath.Join(root, "modprobe.d")
	require.NoError(t, os.MkdirAll(conf, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(conf, "b.conf"), []byte("blacklist snd_hda_intel\nalias platform:rtc_cmos rtc_cmos\n"), 0o644))
	k := modprobetest.NewKernel(t)
	sysfs := k.SysfsDir()
	device(t, sysfs, "pci0000:00/0000:00:01.0", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00")
	device(t, sysfs, "pci0000:00/0000:00:02.0", "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00")
	device(t, sysfs, "pci0000:00/0000:00:03.0", "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00") // a second e1000
	device(t, sysfs, "pci0000:00/0000:00:04.0", "pci:v00008086d00002668sv00001AF4sd00001100bc04sc03i00")
	device(t, sysfs, "pci0000:00/0000:00:05.0", "pci:v00001B36d00000100sv00001AF4sd00001100bc03sc00i00") // no module
	device(t, sysfs, "platform/broken", "platform:broken")
	device(t, sysfs, "platform/rtc_cmos", "platform:rtc_cmos")
	device(t, sysfs, "system/cpu", "") // no alias
	k.FailInit("broken", syscall.EINVAL)
	// virtio_pci brings the virtio device, as the kernel would.
	k.OnInsert(func(in modprobetest.Insert) error {
		if in.Module == "virtio_pci" {
			device(t, sysfs, "pci0000:00/0000:00:01.0/virtio0", "virtio:d00000001v00001AF4")
		}
		return nil
	})
	l := k.Open(t, modprobe.Options{RootDir: root, KernelRelease: "6.12.0", ConfigPaths: []string{conf}})

	rep, err := coldplug.Run(context.Background(), l, coldplug.Options{SysfsDir: sysfs, Jobs: 2})
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.EINVAL)
	got := map[string]string{}
	for _, d := range rep.Devices {
		rel, _ := filepath.Rel(filepath.Join(sysfs, "devices"), d.Path)
		s := "unmatched"
		if !d.Unmatched {
			s = ""
			for _, m := range d.Modules {
				s += m.Module + ":" + m.Status.String() + " "
			}
		}
		got[rel] = s
		if rel == "pci0000:00/0000:00:01.0/virtio0" {
			assert.Equal(t, 1, d.Round, "found by the second walk")
		}
	}
	assert.Equal(t, map[string]string{
		"pci0000:00/0000:00:01.0":         "virtio_pci:inserted ",
		"pci0000:00/0000:00:01.0/virtio0": "virtio_net:inserted ",
		"pci0000:00/0000:00:02.0":         "e1000:inserted ",
		"pci0000:00/0000:00:03.0":         "e1000:inserted ", // the same load
		"pci0000:00/0000:00:04.0":         "snd_hda_intel:deny-listed ",
		"pci0000:00/0000:00:05.0":         "unmatched",
		"platform/broken":                 "broken:failed ",
		"platform/rtc_cmos":               "rtc_cmos:builtin ",
	}, got)
	loaded := k.Loaded()
	sort.Strings(loaded)
	assert.Equal(t, []string{"e1000", "net_failover", "virtio_net", "virtio_pci"}, loaded)
	e1000 := 0
	for _, in := range k.Inserts() {
		if in.Module == "e1000" {
			e1000++
		}
	}
	assert.Equal(t, 1, e1000, "each module loads once")

	// A second run finds everything in place.
	rep, err = coldplug.Run(context.Background(), l, coldplug.Options{SysfsDir: sysfs})
	require.Error(t, err) // broken still fails
	for _, d := range rep.Devices {
		for _, m := range d.Modules {
			if m.Module != "broken" {
				assert.Contains(t, []modulesload.Status{modulesload.AlreadyLoaded, modulesload.Builtin, modulesload.Blacklisted}, m.Status, m.Module)
			}
		}
	}
}

func TestRunDryRun(t *testing.T) {
	root := t.TempDir()
	_, err := modprobetest.WriteTree(root, "6.12.0",
		modprobetest.Module{Name: "base"},
		modprobetest.Module{Name: "e1000", Depends: []string{"base"}, Aliases: []string{"pci:v00008086d0000100E*"}},
	)
	require.NoError(t, err)
	k := modprobetest.NewKernel(t)
	device(t, k.SysfsDir(), "pci0000:00/0000:00:02.0", "pci:v00008086d0000100Esv0sd0bc02sc00i00")
	device(t, k.SysfsDir(), "pci0000:00/0000:00:05.0", "pci:v00001B36d00000100sv0sd0bc03sc00i00")
	l := k.Open(t, modprobe.Options{RootDir: root, KernelRelease: "6.12.0", ConfigPaths: []string{}})
	rep, err := coldplug.Run(context.Background(), l, coldplug.Options{SysfsDir: k.SysfsDir(), DryRun: true})
	require.NoError(t, err)
	require.Len(t, rep.Planned, 1)
	var acts []string
	for _, a := range rep.Planned[0].Probes[0].Actions {
		acts = append(acts, a.Module)
	}
	assert.Equal(t, []string{"base", "e1000"}, acts)
	assert.Empty(t, k.Inserted())
	require.Len(t, rep.Devices, 2)
	assert.False(t, rep.Devices[0].Unmatched)
	assert.True(t, rep.Devices[1].Unmatched)
}

func TestRunErrors(t *testing.T) {
	k := modprobetest.NewKernel(t)
	root := t.TempDir()
	_, err := modprobetest.WriteTree(root, "6.12.0", modprobetest.Module{Name: "a"})
	require.NoError(t, err)
	l := k.Open(t, modprobe.Options{RootDir: root, KernelRelease: "6.12.0", ConfigPaths: []string{}})
	_, err = coldplug.Run(context.Background(), l, coldplug.Options{SysfsDir: filepath.Join(root, "nothere")})
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "nothere")

	device(t, k.SysfsDir(), "x", "a")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = coldplug.Run(ctx, l, coldplug.Options{SysfsDir: k.SysfsDir(), Settle: time.Millisecond})
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, k.Inserted())
}

// TestRunSharedModules loads a machine whose devices' aliases differ but
// resolve to the same modules (virtio transports of several device
// types, drivers sharing a dependency), with more loaders than devices:
// each module is inserted once, every device reports its modules.
func TestRunSharedModules(t *testing.T) {
	root := t.TempDir()
	_, err := modprobetest.WriteTree(root, "6.12.0",
		modprobetest.Module{Name: "virtio_ring"},
		modprobetest.Module{Name: "virtio_pci", Depends: []string{"virtio_ring"}, Aliases: []string{"pci:v00001AF4d*sv*sd*bc*sc*i*"}},
		modprobetest.Module{Name: "snd"},
		modprobetest.Module{Name: "snd_a", Depends: []string{"snd"}, Aliases: []string{"pci:v00008086d0000AAAAsv*sd*bc*sc*i*"}},
		modprobetest.Module{Name: "snd_b", Depends: []string{"snd"}, Aliases: []string{"pci:v00008086d0000BBBBsv*sd*bc*sc*i*"}},
	)
	require.NoError(t, err)
	k := modprobetest.NewKernel(t)
	sysfs := k.SysfsDir()
	for i := range 6 {
		device(t, sysfs, fmt.Sprintf("pci0000:00/0000:00:0%d.0", i+1), fmt.Sprintf("pci:v00001AF4d0000100%dsv00001AF4sd00000001bc02sc00i00", i))
	}
	device(t, sysfs, "pci0000:00/0000:00:08.0", "pci:v00008086d0000AAAAsv0sd0bc04sc03i00")
	device(t, sysfs, "pci0000:00/0000:00:09.0", "pci:v00008086d0000BBBBsv0sd0bc04sc03i00")
	l := k.Open(t, modprobe.Options{RootDir: root, KernelRelease: "6.12.0", ConfigPaths: []string{}})

	rep, err := coldplug.Run(context.Background(), l, coldplug.Options{SysfsDir: sysfs, Jobs: 16})
	require.NoError(t, err)
	inserts := map[string]int{}
	for _, in := range k.Inserts() {
		inserts[in.Module]++
	}
	assert.Equal(t, map[string]int{"virtio_ring": 1, "virtio_pci": 1, "snd": 1, "snd_a": 1, "snd_b": 1}, inserts, "each module inserted once")
	require.Len(t, rep.Devices, 8)
	for _, d := range rep.Devices {
		require.NotEmpty(t, d.Modules, d.Path)
		last := d.Modules[len(d.Modules)-1]
		assert.Contains(t, []modulesload.Status{modulesload.Inserted, modulesload.AlreadyLoaded}, last.Status, d.Path)
		assert.NoError(t, last.Err, d.Path)
	}
}
