package coldplug

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseUevent(t *testing.T) {
	msg := func(parts ...string) []byte { return []byte(strings.Join(parts, "\x00") + "\x00") }
	ev, ok := parseUevent(msg("add@/devices/pci0000:00/0000:00:03.0", "ACTION=add", "DEVPATH=/devices/pci0000:00/0000:00:03.0", "SUBSYSTEM=pci", "MODALIAS=pci:v00008086d0000100Esv0sd0bc02sc00i00", "SEQNUM=1234"))
	assert.True(t, ok)
	assert.Equal(t, Event{Devpath: "/devices/pci0000:00/0000:00:03.0", Modalias: "pci:v00008086d0000100Esv0sd0bc02sc00i00"}, ev)

	for name, m := range map[string][]byte{
		"remove":     msg("remove@/devices/x", "ACTION=remove", "DEVPATH=/devices/x", "MODALIAS=pci:x"),
		"no alias":   msg("add@/devices/x", "ACTION=add", "DEVPATH=/devices/x"),
		"udev's own": msg("libudev", "ACTION=add", "MODALIAS=pci:x"),
		"empty":      nil,
		"garbage":    []byte("\xff\x00=\x00"),
	} {
		_, ok := parseUevent(m)
		assert.False(t, ok, name)
	}
}
