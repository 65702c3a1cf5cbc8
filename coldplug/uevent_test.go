package coldplug

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseUevent(t *testing.T) {
	msg := func(parts ...string) []byte { return []byte(strings.Join(parts, "\x00") + "\x00") }
	env, ok := parseUevent(msg("add@/devices/pci0000:00/0000:00:03.0", "ACTION=add", "DEVPATH=/devices/pci0000:00/0000:00:03.0", "SUBSYSTEM=pci", "MODALIAS=pci:v00008086d0000100Esv0sd0bc02sc00i00", "SEQNUM=1234"))
	assert.True(t, ok)
	assert.Equal(t, map[string]string{
		"ACTION": "add", "DEVPATH": "/devices/pci0000:00/0000:00:03.0", "SUBSYSTEM": "pci",
		"MODALIAS": "pci:v00008086d0000100Esv0sd0bc02sc00i00", "SEQNUM": "1234",
	}, env)
	env, ok = parseUevent(msg("add@/module/parport_pc", "ACTION=add", "DEVPATH=/module/parport_pc", "SUBSYSTEM=module"))
	assert.True(t, ok, "an event without a MODALIAS a rule may load for")
	assert.Equal(t, "module", env["SUBSYSTEM"])

	for name, m := range map[string][]byte{
		"udev's own": msg("libudev", "ACTION=add", "DEVPATH=/devices/x", "MODALIAS=pci:x"),
		"no devpath": msg("add@/devices/x", "ACTION=add", "MODALIAS=pci:x"),
		"empty":      nil,
		"garbage":    []byte("\xff\x00=\x00"),
	} {
		_, ok := parseUevent(m)
		assert.False(t, ok, name)
	}
}

// TestEventRules applies the rules to the kernel's events as Watch and
// Run's event reader do: the properties come from the message, the
// subsystem from SUBSYSTEM, the kernel name from DEVPATH.
func TestEventRules(t *testing.T) {
	msg := func(parts ...string) []byte { return []byte(strings.Join(parts, "\x00") + "\x00") }
	sysfs := t.TempDir()
	for _, tc := range []struct {
		msg    []byte
		sg     bool
		load   bool
		alias  string
		driver []string
	}{
		{msg: msg("add@/module/parport_pc", "ACTION=add", "DEVPATH=/module/parport_pc", "SUBSYSTEM=module"), load: true, driver: []string{"ppdev"}},
		{msg: msg("add@/module/parport", "ACTION=add", "DEVPATH=/module/parport", "SUBSYSTEM=module")},
		{msg: msg("add@/devices/x/0:0:0:0", "ACTION=add", "DEVPATH=/devices/x/0:0:0:0", "SUBSYSTEM=scsi", "DEVTYPE=scsi_device", "MODALIAS=scsi:t-0x00"), sg: true, load: true, alias: "scsi:t-0x00", driver: []string{"sg"}},
		{msg: msg("add@/devices/x/0:0:0:0", "ACTION=add", "DEVPATH=/devices/x/0:0:0:0", "SUBSYSTEM=scsi", "DEVTYPE=scsi_device", "MODALIAS=scsi:t-0x00"), load: true, alias: "scsi:t-0x00"},
		{msg: msg("add@/devices/t/tifm_sd0:0", "ACTION=add", "DEVPATH=/devices/t/tifm_sd0:0", "SUBSYSTEM=tifm", "TIFM_CARD_TYPE=SD"), load: true, driver: []string{"tifm_sd"}},
		{msg: msg("add@/devices/m/memstick0", "ACTION=add", "DEVPATH=/devices/m/memstick0", "SUBSYSTEM=memstick"), load: true, driver: []string{"ms_block", "mspro_block"}},
		{msg: msg("add@/devices/n/mtd0ro", "ACTION=add", "DEVPATH=/devices/n/mtd0ro", "SUBSYSTEM=mtd", "MTD_FTL=smartmedia"), load: true, driver: []string{"sm_ftl"}},
		{msg: msg("add@/devices/n/mtd0", "ACTION=add", "DEVPATH=/devices/n/mtd0", "SUBSYSTEM=mtd", "MTD_FTL=smartmedia")},
	} {
		env, ok := parseUevent(tc.msg)
		assert.True(t, ok)
		r := newRules(Options{SysfsDir: sysfs, LoadSG: tc.sg})
		d, load := r.device(sysfs+env["DEVPATH"], env["SUBSYSTEM"], env)
		assert.Equal(t, tc.load, load, env["DEVPATH"])
		assert.Equal(t, tc.alias, d.Modalias, env["DEVPATH"])
		assert.Equal(t, tc.driver, d.Drivers, env["DEVPATH"])
	}
}
