package coldplug

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gokmod/modprobe/internal/fileio"
)

// Device is a device for which modules load: its MODALIAS, and the
// modules udev's rules name for it.
type Device struct {
	// Path is the device's directory below SYSFS/devices (or
	// SYSFS/module for a module's own entry).
	Path string
	// Modalias is its MODALIAS; "" for a device only a rule loads for.
	Modalias string
	// Drivers are the modules udev's rules beyond the alias load for it,
	// by name: tifm_sd or tifm_ms for a TI FlashMedia card, ms_block
	// and mspro_block for a Memory Stick, i2o_block for an I2O device,
	// ppdev once parport_pc is loaded, sm_ftl for a SmartMedia card's
	// MTD, and with Options.LoadSG sg for a SCSI device (Debian's rule).
	Drivers []string
}

// maxAttr bounds a uevent or modalias file (the kernel's uevent buffer is
// 2 KiB).
const maxAttr = 64 << 10

// Scan returns the devices below opts.SysfsDir (default /sys) for which
// udev's rules load modules, in the order of a depth-first walk sorted
// by name (parents first), then the modules' entries (SYSFS/module) a
// rule loads for, as "udevadm trigger" sees subsystems and devices.
// Symbolic links are not followed, so each device is seen once.
func Scan(ctx context.Context, opts Options) ([]Device, error) {
	var devs []Device
	if err := newRules(opts).walk(ctx, func(d Device) { devs = append(devs, d) }); err != nil {
		return nil, err
	}
	return devs, nil
}

// walk calls found with each device Scan returns, as the walk finds it.
func (r rules) walk(ctx context.Context, found func(Device)) error {
	root := filepath.Join(r.sysfs, "devices")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			return nil // a device that went away, or an unreadable one
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		env := ueventOf(path)
		if env == nil {
			return nil
		}
		if dev, ok := r.device(path, subsystemOf(path), env); ok {
			found(dev)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Modules are devices of subsystem "module" to udev; none has a
	// MODALIAS.
	mods, _ := os.ReadDir(filepath.Join(r.sysfs, "module"))
	for _, m := range mods {
		if dev, ok := r.device(filepath.Join(r.sysfs, "module", m.Name()), "module", nil); ok {
			found(dev)
		}
	}
	return nil
}

// ueventOf returns the properties of the device directory dir as its
// uevent file has them (what udev's rules match, MODALIAS among them;
// the modalias attribute, which some devices have without a MODALIAS, is
// not what udev loads); nil when it has no uevent file.
func ueventOf(dir string) map[string]string {
	data, err := fileio.ReadFile(filepath.Join(dir, "uevent"), maxAttr)
	if err != nil {
		return nil
	}
	env := map[string]string{}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if k, v, ok := bytes.Cut(line, []byte("=")); ok && len(k) > 0 {
			env[string(k)] = string(v)
		}
	}
	return env
}

// subsystemOf returns the subsystem of the device directory dir: the
// base name of its subsystem link; "" for none.
func subsystemOf(dir string) string {
	target, err := os.Readlink(filepath.Join(dir, "subsystem"))
	if err != nil {
		return ""
	}
	return filepath.Base(target)
}
