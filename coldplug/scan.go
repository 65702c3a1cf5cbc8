package coldplug

import (
	"bytes"
	"context"
	"io/fs"
	"path/filepath"

	"github.com/gokmod/modprobe/internal/fileio"
)

// Device is a device with a module alias.
type Device struct {
	// Path is the device's directory below SYSFS/devices.
	Path string
	// Modalias is its MODALIAS.
	Modalias string
}

// maxAttr bounds a uevent or modalias file (the kernel's uevent buffer is
// 2 KiB).
const maxAttr = 64 << 10

// Scan returns the devices below sysfs/devices that have a module alias,
// in the order of a depth-first walk sorted by name (parents first).
// Symbolic links are not followed, so each device is seen once.
func Scan(ctx context.Context, sysfs string) ([]Device, error) {
	var devs []Device
	if err := walk(ctx, sysfs, func(d Device) { devs = append(devs, d) }); err != nil {
		return nil, err
	}
	return devs, nil
}

// walk calls found with each device Scan returns, as the walk finds it.
func walk(ctx context.Context, sysfs string, found func(Device)) error {
	root := filepath.Join(sysfs, "devices")
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
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
		if alias := modaliasOf(path); alias != "" {
			found(Device{Path: path, Modalias: alias})
		}
		return nil
	})
}

// modaliasOf returns the MODALIAS of the device directory dir, from its
// uevent file as udev has it (the modalias attribute, which some devices
// have without a MODALIAS, is not what udev loads); "" for none.
func modaliasOf(dir string) string {
	data, err := fileio.ReadFile(filepath.Join(dir, "uevent"), maxAttr)
	if err != nil {
		return ""
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("MODALIAS=")); ok && len(v) > 0 {
			return string(v)
		}
	}
	return ""
}
