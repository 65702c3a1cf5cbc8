package coldplug

import (
	"strings"

	"github.com/gokmod/modprobe/modulesload"
)

// queue holds the entries waiting for a loader in lines by rank (see
// rank), each line in the order its entries came: an entry waits for
// the lines before its own. Not safe for concurrent use (the runner's
// mutex guards it).
type queue struct {
	lines [ranks][]modulesload.Entry
}

// queued is an entry with its rank.
type queued struct {
	e    modulesload.Entry
	rank int
}

// push appends e to the line of rank r.
func (q *queue) push(e modulesload.Entry, r int) {
	q.lines[r] = append(q.lines[r], e)
}

// pop removes and returns the next entry with its rank, and reports
// whether there was one.
func (q *queue) pop() (modulesload.Entry, int, bool) {
	for i := range q.lines {
		if line := q.lines[i]; len(line) > 0 {
			e := line[0]
			line[0] = modulesload.Entry{}
			q.lines[i] = line[1:]
			return e, i, true
		}
	}
	return modulesload.Entry{}, 0, false
}

// empty reports whether no entry waits.
func (q *queue) empty() bool {
	for _, line := range q.lines {
		if len(line) > 0 {
			return false
		}
	}
	return true
}

// ranks is how many lines a queue has.
const ranks = 4

// busDevice reports whether modalias a is on one of the buses whose
// drivers may bring further devices: a virtio driver a network, block or console device; a USB
// interface driver a SCSI host (usb-storage) or HID devices (usbhid); an
// HD-audio codec driver its sound card; a SCSI or HID driver disks and
// input devices. The rest (acpi, platform, pnp, cpu, input, serio, dmi)
// are mostly leaves.
func busDevice(a string) bool {
	bus, _, _ := strings.Cut(a, ":")
	switch bus {
	case "pci", "virtio", "usb", "hdaudio", "scsi", "hid":
		return true
	}
	return false
}

// hostClass reports whether bc, a PCI base class (the MODALIAS's "bc"
// field), is one of the controllers behind which the longest chains of devices wait: mass
// storage (SCSI, SATA, NVMe hosts: disks, then their block drivers),
// multimedia (HD audio: codecs), serial bus controllers (USB host
// controllers: hubs, then interfaces, then what their drivers make, a
// USB disk's SCSI device a second after it binds).
func hostClass(bc string) bool {
	switch bc {
	case "01", "04", "0C":
		return true
	}
	return false
}

// virtioVendor is the PCI vendor of virtio devices ("v00001AF4"), whose
// transport driver, virtio_pci, brings the virtio devices.
const virtioVendor = "pci:v00001AF4"

// rank orders device d's loads in the queue, so that the chains of
// devices that drivers bring start first (only the order changes, never
// what loads): 0 for a device the kernel announced while the loads ran
// (round -1: a driver just brought it, so it is on its way to the last
// device), 1 for a PCI host controller (hostClass) or virtio
// transport, 2 for another device on a bus whose drivers bring devices
// (busDevice), 3 for the rest.
func rank(d Device, round int) int {
	switch a := d.Modalias; {
	case round < 0:
		return 0
	case strings.HasPrefix(a, virtioVendor):
		return 1
	case strings.HasPrefix(a, "pci:"):
		if _, rest, ok := strings.Cut(a, "bc"); ok && len(rest) >= 2 && hostClass(rest[:2]) {
			return 1
		}
		return 2
	}
	if busDevice(d.Modalias) {
		return 2
	}
	return 3
}
