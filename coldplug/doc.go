// Package coldplug loads the drivers for the devices a machine has, as
// udev's kmod builtin does at boot ("udevadm trigger --action=add"): every
// device under /sys/devices with a MODALIAS (its uevent file, or its
// modalias attribute) has that alias loaded with the blacklist applied, a
// name that matches no module being no error. Loading a driver makes new
// devices appear (a PCI virtio transport brings virtio devices, a USB host
// controller its USB devices), so the walk repeats, after the kernel's
// uevents settle, until it finds no new alias. Each module loads once,
// independent ones in parallel. Watch is the hotplug half: it loads for
// each "add" uevent with a MODALIAS until its context ends, a small
// daemon for a guest without udev.
package coldplug
