package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/modprobetest"
)

func TestColdplugTool(t *testing.T) {
	root := t.TempDir()
	_, err := modprobetest.WriteTree(root, fakeRelease,
		modprobetest.Module{Name: "base"},
		modprobetest.Module{Name: "e1000", Depends: []string{"base"}, Aliases: []string{"pci:v00008086d0000100E*"}},
	)
	require.NoError(t, err)
	k := modprobetest.NewKernel(t)
	require.NoError(t, k.SetRelease(fakeRelease))
	dev := filepath.Join(k.SysfsDir(), "devices/pci0000:00/0000:00:02.0")
	require.NoError(t, os.MkdirAll(dev, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dev, "uevent"), []byte("MODALIAS=pci:v00008086d0000100Esv0sd0bc02sc00i00\n"), 0o644))
	args := []string{"-d", root, "--sysfs", k.SysfsDir()}

	o := runFake(k, "coldplug", append(args, "-n")...)
	assert.Equal(t, 0, o.Code, o)
	assert.Contains(t, o.Stdout, "insmod "+root+"/lib/modules/"+fakeRelease+"/kernel/base.ko")
	assert.Empty(t, k.Inserted())

	o = runFake(k, "coldplug", append(args, "-v")...)
	assert.Equal(t, 0, o.Code, o)
	assert.Equal(t, dev+" pci:v00008086d0000100Esv0sd0bc02sc00i00: e1000 inserted\n", o.Stdout)
	assert.Equal(t, []string{"base", "e1000"}, k.Inserted())

	o = runFake(k, "coldplug", "bogus")
	assert.Equal(t, 1, o.Code, o)
	o = runFake(k, "coldplug", "-d", root, "--sysfs", filepath.Join(root, "none"))
	assert.Equal(t, 1, o.Code, o)
	assert.Contains(t, o.Stderr, "none")
}

func TestUdevLoadsSG(t *testing.T) {
	sgLine := "SUBSYSTEM==\"scsi\", ENV{DEVTYPE}==\"scsi_device\", TEST!=\"[module/sg]\", RUN{builtin}+=\"kmod load sg\"\n"
	dirs := func(files map[string]string) []string {
		etc, lib := t.TempDir(), t.TempDir()
		for name, content := range files {
			dir, base := filepath.Split(name)
			target := lib
			if dir == "etc/" {
				target = etc
			}
			if content == "/dev/null" {
				require.NoError(t, os.Symlink("/dev/null", filepath.Join(target, base)))
				continue
			}
			require.NoError(t, os.WriteFile(filepath.Join(target, base), []byte(content), 0o644))
		}
		return []string{etc, filepath.Join(t.TempDir(), "missing"), lib}
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  bool
	}{
		{"Debian's", map[string]string{"lib/80-debian-compat.rules": "# compat\n" + sgLine}, true},
		{"none", map[string]string{"lib/80-drivers.rules": "ENV{MODALIAS}==\"?*\", RUN{builtin}+=\"kmod load\"\n"}, false},
		{"masked", map[string]string{"lib/80-debian-compat.rules": sgLine, "etc/80-debian-compat.rules": "/dev/null"}, false},
		{"overridden", map[string]string{"lib/80-debian-compat.rules": sgLine, "etc/80-debian-compat.rules": "# mine\n"}, false},
		{"commented", map[string]string{"lib/80-debian-compat.rules": "# " + sgLine}, false},
		{"own file", map[string]string{"etc/90-local.rules": sgLine}, true},
		{"not a rules file", map[string]string{"lib/80-debian-compat.rules.bak": sgLine}, false},
	} {
		assert.Equal(t, tc.want, udevLoadsSG(dirs(tc.files)), tc.name)
	}
}
