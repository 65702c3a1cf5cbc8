package coldplug

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/modprobetest"
	"github.com/gokmod/modprobe/modulesload"
)

// TestCatchUp is Watch after the kernel dropped events (ENOBUFS): the
// devices in sysfs are loaded, and only those that needed a module are
// reported.
func TestCatchUp(t *testing.T) {
	root := t.TempDir()
	_, err := modprobetest.WriteTree(root, "6.12.0",
		modprobetest.Module{Name: "e1000e", Aliases: []string{"pci:v00008086d000010D3*"}},
		modprobetest.Module{Name: "e1000", Aliases: []string{"pci:v00008086d0000100E*"}},
	)
	require.NoError(t, err)
	k := modprobetest.NewKernel(t)
	require.NoError(t, k.Preload("e1000"))
	for path, alias := range map[string]string{
		"pci0000:00/0000:00:02.0": "pci:v00008086d0000100Esv0sd0bc02sc00i00", // its driver is live
		"pci0000:00/0000:00:09.0": "pci:v00008086d000010D3sv0sd0bc02sc00i00", // added while events were lost
		"pci0000:00/0000:00:0a.0": "pci:v00001B36d00000100sv0sd0bc03sc00i00", // no module
	} {
		dir := filepath.Join(k.SysfsDir(), "devices", path)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "uevent"), []byte("MODALIAS="+alias+"\n"), 0o644))
	}
	l := k.Open(t, modprobe.Options{RootDir: root, KernelRelease: "6.12.0", ConfigPaths: []string{}})
	var events []Event
	opts := Options{SysfsDir: k.SysfsDir()}
	require.NoError(t, catchUp(context.Background(), l, opts, func(ev Event) { events = append(events, ev) }))
	require.Len(t, events, 1)
	assert.Equal(t, "/devices/pci0000:00/0000:00:09.0", events[0].Devpath)
	require.Len(t, events[0].Modules, 1)
	assert.Equal(t, "e1000e", events[0].Modules[0].Module)
	assert.Equal(t, modulesload.Inserted, events[0].Modules[0].Status)
	assert.Equal(t, []string{"e1000e"}, k.Inserted())

	events = nil
	require.NoError(t, catchUp(context.Background(), l, opts, func(ev Event) { events = append(events, ev) }))
	assert.Empty(t, events, "nothing new")

	err = catchUp(context.Background(), l, Options{SysfsDir: filepath.Join(root, "none")}, nil)
	require.ErrorIs(t, err, ErrWatch)
	assert.ErrorIs(t, err, os.ErrNotExist)
}
