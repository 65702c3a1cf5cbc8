// Package coldplug loads the drivers for the devices a machine has, as
// udev's kmod builtin does at boot ("udevadm trigger --action=add"): every
// device under /sys/devices with a MODALIAS (its uevent file, or its
// modalias attribute) has that alias loaded with the blacklist applied, a
// name that matches no module being no error. Loading a driver makes new
// devices appear (a PCI virtio transport brings virtio devices, a USB host
// controller its USB devices), so the walk repeats, after the kernel's
// uevents settle, until it finds no new alias. Each module loads once,
// independent ones in parallel. Besides the aliases, the modules udev's
// own rules name load as udev loads them (80-drivers.rules: tifm_sd,
// tifm_ms, ms_block, mspro_block, i2o_block, ppdev once parport_pc is
// loaded, sm_ftl for a SmartMedia card; with Options.LoadSG, Debian's sg
// for SCSI devices): see Device.Drivers. Watch is the hotplug half: it
// loads for each "add" uevent until its context ends, a small daemon for
// a guest without udev; Listen opens its socket ahead, so that a
// coldplug run in between misses nothing.
package coldplug
