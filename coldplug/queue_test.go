package coldplug

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/modulesload"
)

// TestQueueRanks queues the devices of a small PC in the order a walk of
// sysfs finds them (ACPI, then PCI by address, then platform and CPU),
// then a device the kernel announces meanwhile: the loads come out with
// the chains of devices first, each rank in the order it came.
func TestQueueRanks(t *testing.T) {
	devs := []struct {
		alias string
		round int
	}{
		{"acpi:PNP0400:", 0},
		{"pci:v00008086d00007113sv00001AF4sd00001100bc06sc80i00", 0}, // SMBus bridge
		{"pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", 0}, // virtio network transport
		{"pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00", 0}, // e1000
		{"pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30", 0}, // xHCI
		{"pci:v00008086d00002668sv00001AF4sd00001100bc04sc03i00", 0}, // HD audio
		{"platform:pcspkr", 0},
		{"cpu:type:x86,ven0002fam000Fmod006B:feature:,0000", 0},
		{"usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00", -1}, // a USB disk, announced
		{"scsi:t-0x00", 2},                                        // a later walk
	}
	var q queue
	assert.True(t, q.empty())
	for _, d := range devs {
		q.push(modulesload.Entry{Name: d.alias}, rank(Device{Modalias: d.alias}, d.round))
	}
	var got []string
	for !q.empty() {
		e, _, ok := q.pop()
		require.True(t, ok)
		got = append(got, e.Name)
	}
	_, _, ok := q.pop()
	assert.False(t, ok)
	assert.Equal(t, []string{
		"usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00",
		"pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00",
		"pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30",
		"pci:v00008086d00002668sv00001AF4sd00001100bc04sc03i00",
		"pci:v00008086d00007113sv00001AF4sd00001100bc06sc80i00",
		"pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00",
		"scsi:t-0x00",
		"acpi:PNP0400:",
		"platform:pcspkr",
		"cpu:type:x86,ven0002fam000Fmod006B:feature:,0000",
	}, got)
	// A rule's module (no alias) loads in its device's rank.
	assert.Equal(t, 0, rank(Device{Drivers: []string{"sg"}}, -1))
	assert.Equal(t, 3, rank(Device{Drivers: []string{"ppdev"}}, 0))
}

func TestUdevWorkers(t *testing.T) {
	for _, tc := range []struct {
		cpus int
		mem  uint64
		want int
	}{
		{2, 1 << 30, 10},   // a 1 GiB guest: the memory bound, at least 10
		{2, 512 << 20, 10}, // less memory still gets 10
		{2, 4 << 30, 20},   // 2 CPUs: 2*2+16
		{64, 64 << 30, 144},
		{2, 0, 20}, // memory unknown
		{2000, 1 << 50, 2048},
	} {
		assert.Equal(t, tc.want, udevWorkers(tc.cpus, tc.mem), "%d CPUs, %d bytes", tc.cpus, tc.mem)
	}
}
