package kmodimage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gokmod/modprobe/depmod"
)

// ErrLayout: a module tree is not laid out as a kmod image's must be.
var ErrLayout = errors.New("bad kmod image layout")

// CheckLayout checks the module tree root/DIRNAME/lib/modules/KERNEL that
// a worker will load from: the directory exists, holds at least one
// module (.ko, .ko.xz, .ko.zst or .ko.gz, at any depth, not counting
// those reached through symbolic links such as KMM's "host" link), and
// has depmod's dependency index (modules.dep.bin or modules.dep), without
// which modprobe finds no module. Errors wrap ErrLayout and say what to
// do (IndexTree builds them).
func CheckLayout(root, dirName, kernel string) error {
	if dirName == "" {
		dirName = DefaultDirName
	}
	return checkModuleDir(filepath.Join(root, dirName, "lib/modules", kernel))
}

// checkModuleDir is CheckLayout on the module directory dir.
func checkModuleDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s does not exist%s", ErrLayout, dir, kernelsIn(filepath.Dir(dir)))
		}
		return fmt.Errorf("%w: %w", ErrLayout, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrLayout, dir)
	}
	found := false
	errStop := errors.New("found")
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && hasModuleSuffix(d.Name()) {
			found = true
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("%w: %w", ErrLayout, err)
	}
	if !found {
		return fmt.Errorf("%w: %s holds no module (.ko, .ko.xz, .ko.zst or .ko.gz)", ErrLayout, dir)
	}
	if hasIndex(dir) {
		return nil
	}
	modules := filepath.Dir(dir)
	return fmt.Errorf("%w: %s has no modules.dep or modules.dep.bin: run depmod -b %s %s when building the image",
		ErrLayout, dir, filepath.Dir(filepath.Dir(modules)), filepath.Base(dir))
}

// hasIndex reports whether the module directory dir has depmod's
// dependency index.
func hasIndex(dir string) bool {
	for _, idx := range []string{"modules.dep.bin", "modules.dep"} {
		if fi, err := os.Stat(filepath.Join(dir, idx)); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// hasModuleSuffix reports whether name is a module file's: .ko, .ko.xz,
// .ko.zst or .ko.gz.
func hasModuleSuffix(name string) bool {
	for _, s := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// IndexTree builds the indexes of the module tree
// root/lib/modules/KERNEL with gokmod's depmod (no depmod.d
// configuration) when it has no modules.dep or modules.dep.bin, as a kmod
// image built without depmod needs; it reports whether it did. Messages
// are dropped; a dependency cycle is an error.
func IndexTree(ctx context.Context, root, kernel string) (bool, error) {
	dir := filepath.Join(root, "lib/modules", kernel)
	if hasIndex(dir) {
		return false, nil
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return false, fmt.Errorf("%w: %s is not a directory", ErrLayout, dir)
	}
	var msgs []string
	err := depmod.Run(ctx, depmod.Options{
		BaseDir:     root,
		Release:     kernel,
		ConfigPaths: []string{},
		Log: func(l depmod.Level, msg string) {
			if l <= depmod.LevelErr {
				msgs = append(msgs, msg)
			}
		},
	})
	if err != nil {
		return false, fmt.Errorf("indexing %s: %w (%s)", dir, err, strings.Join(msgs, "; "))
	}
	return true, nil
}

// kernelsIn lists the kernel directories of a lib/modules directory, for
// an error message.
func kernelsIn(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return " (no kernel directories there)"
	}
	return " (kernel directories there: " + strings.Join(names, ", ") + ")"
}
