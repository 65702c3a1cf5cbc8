package vmtest

import (
	"path/filepath"
	"strings"

	"github.com/gokmod/modprobe/internal/testmod"
)

// Modules returns the names of the modules TestGuest puts into the image
// (with everything they need, see ModuleClosure) for the guest tests. Add
// a name here when a guest test needs its module.
func Modules() []string {
	return []string{
		// A network device with a parameter (numdummies) and no
		// dependencies.
		"dummy",
		// A dependency chain (ip_vs, nf_conntrack, nf_defrag_ipv4/6,
		// libcrc32c and its crc32c softdep) and, with the other
		// schedulers, many modules sharing it for concurrent loads.
		"ip_vs_wrr", "ip_vs_rr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_sh", "ip_vs_dh", "ip_vs_sed", "ip_vs_nq",
		// For the benchmarks: a stack of 26 modules (Sound Open
		// Firmware) and over 20 modules without dependencies (NLS).
		"snd-sof-pci-intel-tgl",
		// A module whose init fails with EINVAL on a bad parameter
		// ("bonding mode=bogus"), with a dependency (tls).
		"bonding",
		// A stack of three small modules (macvlan, tap) that the
		// second tree of TestGuest holds recompressed.
		"macvtap",
		// A small network device without dependencies that no other
		// test loads; the Debian 13 image carries it edited to declare
		// a weak dependency (WeakdepModule).
		"nlmon",
		// A filesystem the kernel asks for itself (request_module of
		// fs-minix for a mount of that type), for the deny list file's
		// test.
		"minix",
	}
}

// NLSModules returns the module names of the kernel tree's NLS modules,
// which the benchmarks load as a set of independent modules.
func NLSModules(root, release string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(testmod.ModuleDir(root, release), "kernel/fs/nls/*.ko*"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range paths {
		if s := ModuleSuffix(p); s != "" {
			names = append(names, strings.TrimSuffix(filepath.Base(p), s))
		}
	}
	return names, nil
}

// ColdplugDrivers are the modules of the devices ColdplugDevices adds
// (and of the input and platform devices every PC has; sg, which
// Debian's udev loads for the USB disk's SCSI device; ppdev, which udev's
// 80-drivers.rules loads once parport_pc is), which the images
// carry for the coldplug tests: the ones that are modules in the tree at
// root (a driver built into one kernel, as virtio_pci in Debian 13's, is
// left out).
func ColdplugDrivers(root, release string) []string {
	var names []string
	for _, n := range []string{
		"virtio_pci", "virtio_net", "virtio_balloon", "virtio-rng", "virtio_console", "e1000",
		"xhci-pci", "usb-storage", "uas", "sd_mod", "sg", "usbhid", "hid-generic",
		"snd-hda-intel", "snd-hda-codec-generic", "evdev", "psmouse", "pcspkr", "i2c-piix4", "serio_raw",
		"parport_pc", "ppdev",
	} {
		if _, err := ModuleClosure(root, release, []string{n}); err == nil {
			names = append(names, n)
		}
	}
	return names
}

// ColdplugDevices returns qemu arguments adding the devices of the
// coldplug tests: virtio network, entropy, balloon and console devices,
// an e1000 network card, an xHCI USB controller with a storage device
// (the file disk, which must exist) and a tablet, an Intel HD Audio
// controller with a codec, and a parallel port (ACPI's PNP0400, for
// parport_pc). The network cards are on a hub with nothing else; the
// sound and the port go nowhere.
func ColdplugDevices(disk string) []string {
	return []string{
		"-netdev", "hubport,id=n0,hubid=0", "-device", "virtio-net-pci,netdev=n0",
		"-netdev", "hubport,id=n1,hubid=0", "-device", "e1000,netdev=n1",
		"-device", "virtio-rng-pci", "-device", "virtio-balloon-pci", "-device", "virtio-serial-pci",
		"-device", "qemu-xhci,id=xhci",
		"-drive", "if=none,id=usbdisk,format=raw,file=" + disk,
		"-device", "usb-storage,bus=xhci.0,drive=usbdisk", "-device", "usb-tablet,bus=xhci.0",
		"-audiodev", "none,id=snd0", "-device", "intel-hda", "-device", "hda-duplex,audiodev=snd0",
		"-chardev", "null,id=lpt0", "-device", "isa-parallel,chardev=lpt0",
	}
}

// HotplugDevices are the devices a guest test may have the host add while
// it runs (Machine.Hotplug, RequestDevice), as QMP device_add arguments:
// "e1000e", an Intel 82574L network card on the PCI bus (qemu's PC
// machine announces it to the kernel through ACPI), without a network
// behind it. Each request adds one more.
func HotplugDevices() map[string]map[string]any {
	return map[string]map[string]any{
		"e1000e": {"driver": "e1000e", "bus": "pci.0"},
	}
}

// HotplugDrivers are the modules of HotplugDevices' devices, which the
// images carry.
func HotplugDrivers() []string { return []string{"e1000e"} }
