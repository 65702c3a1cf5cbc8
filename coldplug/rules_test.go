package coldplug_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/coldplug"
	"github.com/gokmod/modprobe/modprobetest"
)

// ruleDevice writes a device directory below the fake sysfs with a
// subsystem link and a uevent file of the lines given.
func ruleDevice(t *testing.T, sysfs, path, subsystem string, uevent ...string) string {
	t.Helper()
	dir := filepath.Join(sysfs, "devices", path)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	if subsystem != "" {
		require.NoError(t, os.MkdirAll(filepath.Join(sysfs, "bus", subsystem), 0o755))
		rel, err := filepath.Rel(dir, filepath.Join(sysfs, "bus", subsystem))
		require.NoError(t, err)
		require.NoError(t, os.Symlink(rel, filepath.Join(dir, "subsystem")))
	}
	data := ""
	for _, l := range uevent {
		data += l + "\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "uevent"), []byte(data), 0o644))
	return dir
}

// smartMediaCard writes an MTD (nand, 512-byte pages, 16 KiB erase
// blocks, 16 MiB) with its read-only device mtd0ro, whose device node
// below dev holds first, the flash's first bytes.
func smartMediaCard(typ string, page int, first []byte) func(t *testing.T, sysfs, dev string) {
	return func(t *testing.T, sysfs, dev string) {
		mtd := filepath.Join(sysfs, "devices/platform/sm/mtd/mtd0")
		ruleDevice(t, sysfs, "platform/sm/mtd/mtd0/mtd0ro", "mtd", "MAJOR=90", "MINOR=1", "DEVNAME=mtd0ro")
		for name, v := range map[string]string{"type": typ, "writesize": itoa(page), "erasesize": "16384", "size": "16777216"} {
			require.NoError(t, os.WriteFile(filepath.Join(mtd, name), []byte(v+"\n"), 0o444))
		}
		require.NoError(t, os.MkdirAll(dev, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dev, "mtd0ro"), first, 0o444))
	}
}

func itoa(n int) string {
	s := ""
	for ; n > 0 || s == ""; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

// cis is a sector holding SmartMedia's CIS signature at offset at.
func cis(at int) []byte {
	b := make([]byte, 1024)
	copy(b[at:], []byte{0x01, 0x03, 0xD9, 0x01, 0xFF, 0x18, 0x02, 0xDF, 0x01, 0x20})
	return b
}

// TestRules has a table of udev's rules that load modules besides a
// MODALIAS (80-drivers.rules; Debian's 80-debian-compat.rules with
// LoadSG), each on a fake sysfs: the modules inserted, and what the
// report says of the device.
func TestRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sg     bool
		setup  func(t *testing.T, sysfs, dev string)
		want   []string // inserted, sorted
		report string   // the device's results
	}{
		{name: "tifm SD", setup: func(t *testing.T, sysfs, _ string) {
			ruleDevice(t, sysfs, "pci0000:00/0000:00:06.0/tifm_sd0:0", "tifm", "TIFM_CARD_TYPE=SD")
		}, want: []string{"tifm_sd"}, report: "tifm_sd:inserted"},
		{name: "tifm MS", setup: func(t *testing.T, sysfs, _ string) {
			ruleDevice(t, sysfs, "pci0000:00/0000:00:06.0/tifm_ms0:1", "tifm", "TIFM_CARD_TYPE=MS")
		}, want: []string{"tifm_ms"}, report: "tifm_ms:inserted"},
		{name: "tifm xD has no rule", setup: func(t *testing.T, sysfs, _ string) {
			ruleDevice(t, sysfs, "pci0000:00/0000:00:06.0/tifm_sm0:2", "tifm", "TIFM_CARD_TYPE=SM")
		}},
		{name: "TIFM_CARD_TYPE on another subsystem", setup: func(t *testing.T, sysfs, _ string) {
			ruleDevice(t, sysfs, "platform/x", "platform", "TIFM_CARD_TYPE=SD")
		}},
		{name: "memstick: both, a missing one no error", setup: func(t *testing.T, sysfs, _ string) {
			ruleDevice(t, sysfs, "pci0000:00/0000:00:07.0/memstick0", "memstick", "MEMSTICK_TYPE=0", "MEMSTICK_CATEGORY=0", "MEMSTICK_CLASS=255")
		}, want: []string{"mspro_block"}, report: "ms_block:not found mspro_block:inserted"},
		{name: "i2o", setup: func(t *testing.T, sysfs, _ string) {
			ruleDevice(t, sysfs, "pci0000:00/0000:00:08.0/i2o/iop0/0", "i2o")
		}, want: []string{"i2o_block"}, report: "i2o_block:inserted"},
		{name: "parport_pc already loaded", setup: func(t *testing.T, sysfs, _ string) {
			require.NoError(t, os.MkdirAll(filepath.Join(sysfs, "module", "parport_pc"), 0o755))
		}, want: []string{"parport", "ppdev"}, report: "ppdev:inserted"},
		{name: "parport_pc loaded for a port, then ppdev", setup: func(t *testing.T, sysfs, _ string) {
			ruleDevice(t, sysfs, "pnp0/00:05", "pnp", "MODALIAS=pnp:dPNP0400")
		}, want: []string{"parport", "parport_pc", "ppdev"}, report: "parport_pc:inserted"},
		{name: "another module has no rule", setup: func(t *testing.T, sysfs, _ string) {
			require.NoError(t, os.MkdirAll(filepath.Join(sysfs, "module", "parport"), 0o755))
		}},
		{name: "SmartMedia", setup: smartMediaCard("nand", 512, cis(0)), want: []string{"sm_ftl"}, report: "sm_ftl:inserted"},
		{name: "SmartMedia, small pages", setup: smartMediaCard("nand", 256, cis(256)), want: []string{"sm_ftl"}, report: "sm_ftl:inserted"},
		{name: "NAND without the CIS", setup: smartMediaCard("nand", 512, make([]byte, 1024))},
		{name: "NOR flash", setup: smartMediaCard("nor", 512, cis(0))},
		{name: "large pages", setup: smartMediaCard("nand", 2048, cis(0))},
		{name: "short flash", setup: smartMediaCard("nand", 512, cis(0)[:100])},
		{name: "SCSI device, no LoadSG", setup: func(t *testing.T, sysfs, _ string) {
			ruleDevice(t, sysfs, "pci0000:00/host0/target0:0:0/0:0:0:0", "scsi", "DEVTYPE=scsi_device", "MODALIAS=scsi:t-0x00")
		}, want: []string{"sd_mod"}, report: "sd_mod:inserted"},
		{name: "SCSI device, LoadSG", sg: true, setup: func(t *testing.T, sysfs, _ string) {
			ruleDevice(t, sysfs, "pci0000:00/host0/target0:0:0/0:0:0:0", "scsi", "DEVTYPE=scsi_device", "MODALIAS=scsi:t-0x00")
			ruleDevice(t, sysfs, "pci0000:00/host0/target0:0:1/0:0:1:0", "scsi", "DEVTYPE=scsi_device", "MODALIAS=scsi:t-0x05")
		}, want: []string{"sd_mod", "sg"}, report: "sd_mod:inserted sg:inserted"},
		{name: "SCSI host, LoadSG", sg: true, setup: func(t *testing.T, sysfs, _ string) {
			ruleDevice(t, sysfs, "pci0000:00/host0", "scsi", "DEVTYPE=scsi_host")
		}},
		{name: "sg loaded: TEST!=[module/sg]", sg: true, setup: func(t *testing.T, sysfs, _ string) {
			require.NoError(t, os.MkdirAll(filepath.Join(sysfs, "module", "sg"), 0o755))
			ruleDevice(t, sysfs, "pci0000:00/host0/target0:0:0/0:0:0:0", "scsi", "DEVTYPE=scsi_device")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			_, err := modprobetest.WriteTree(root, "6.12.0",
				modprobetest.Module{Name: "tifm_sd"}, modprobetest.Module{Name: "tifm_ms"},
				modprobetest.Module{Name: "mspro_block"}, modprobetest.Module{Name: "i2o_block"},
				modprobetest.Module{Name: "parport"},
				modprobetest.Module{Name: "parport_pc", Depends: []string{"parport"}, Aliases: []string{"pnp:dPNP0400*"}},
				modprobetest.Module{Name: "ppdev", Depends: []string{"parport"}},
				modprobetest.Module{Name: "sm_ftl"}, modprobetest.Module{Name: "sg"},
				modprobetest.Module{Name: "sd_mod", Aliases: []string{"scsi:t-0x00*"}},
			)
			require.NoError(t, err)
			k := modprobetest.NewKernel(t)
			dev := filepath.Join(t.TempDir(), "dev")
			require.NoError(t, os.MkdirAll(filepath.Join(k.SysfsDir(), "devices"), 0o755))
			tc.setup(t, k.SysfsDir(), dev)
			l := k.Open(t, modprobe.Options{RootDir: root, KernelRelease: "6.12.0", ConfigPaths: []string{}})
			opts := coldplug.Options{SysfsDir: k.SysfsDir(), DevDir: dev, LoadSG: tc.sg}
			rep, err := coldplug.Run(context.Background(), l, opts)
			require.NoError(t, err)
			paths := map[string]bool{}
			for _, d := range rep.Devices {
				assert.False(t, paths[d.Path], "%s reported twice", d.Path)
				paths[d.Path] = true
			}
			inserted := k.Inserted()
			slices.Sort(inserted)
			assert.Equal(t, tc.want, inserted)
			got := ""
			for _, d := range rep.Devices {
				if len(d.Modules) == 0 {
					continue
				}
				for _, m := range d.Modules {
					got += " " + m.Module + ":" + m.Status.String()
				}
				break // the first device with loads
			}
			if tc.report != "" {
				assert.Equal(t, " "+tc.report, got)
			} else {
				assert.Empty(t, got)
			}

			// A dry run plans the same modules that are left to load.
			dry, err := coldplug.Run(context.Background(), l, coldplug.Options{SysfsDir: k.SysfsDir(), DevDir: dev, LoadSG: tc.sg, DryRun: true})
			require.NoError(t, err)
			for _, p := range dry.Planned {
				for _, pr := range p.Probes {
					assert.NotEqual(t, modprobe.SkipNone, pr.Skip, "left to load after the run: %s", pr.Module.Name)
				}
			}
		})
	}
}
