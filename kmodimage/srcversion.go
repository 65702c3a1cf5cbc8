package kmodimage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/elfmod"
	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/modname"
)

// maxSrcversionSize bounds the read of a live module's srcversion file
// (the kernel writes 24 hex digits and a newline).
const maxSrcversionSize = 4096

// liveFromImage returns the srcversion shared by the live module name
// and the image's module of that name, or "" when the module is not
// live, the image has no such module, or they differ or cannot be told
// apart (no srcversion on one side). The image module's file is read
// within Options.MaxModuleSize.
func (w *Worker) liveFromImage(ctx context.Context, name string, image *modprobe.Loader) (string, error) {
	sysfs := w.Options.SysfsDir
	if sysfs == "" {
		sysfs = "/sys"
	}
	live, err := fileio.ReadInput(filepath.Join(sysfs, "module", modname.Normalize(name), "srcversion"), maxSrcversionSize)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("srcversion of the live module %s: %w", name, err)
	}
	liveVersion := strings.TrimSpace(string(live))
	if liveVersion == "" {
		return "", nil
	}
	mods, err := image.Lookup(ctx, name)
	if errors.Is(err, modprobe.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for _, m := range mods {
		if m.Path == "" || m.Name != modname.Normalize(name) {
			continue
		}
		v, err := moduleSrcversion(m.Path, w.Options.MaxModuleSize)
		if err != nil {
			return "", err
		}
		if v != "" && v == liveVersion {
			return v, nil
		}
	}
	return "", nil
}

// moduleSrcversion returns the srcversion in the .modinfo of the module
// file at path, or "" when it has none.
func moduleSrcversion(path string, maxSize int64) (string, error) {
	img, err := modprobe.ReadModuleFile(path, maxSize)
	if err != nil {
		return "", fmt.Errorf("srcversion of %s: %w", path, err)
	}
	mod, err := elfmod.Parse(img)
	if err != nil {
		return "", fmt.Errorf("srcversion of %s: %w", path, err)
	}
	info, err := mod.Modinfo()
	if err != nil && !errors.Is(err, elfmod.ErrNoModinfo) {
		return "", fmt.Errorf("srcversion of %s: %w", path, err)
	}
	for _, kv := range info {
		if kv.Key == "srcversion" {
			return kv.Value, nil
		}
	}
	return "", nil
}
