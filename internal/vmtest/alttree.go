package vmtest

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/gokmod/modprobe/internal/testmod"
)

// RecompressedTree writes, below the host directory dir, a second module
// tree DIR/lib/modules/RELEASE for the tree at root: the named modules and
// every module they need (ModuleClosure), each decompressed and compressed
// again into the format of suffix (".ko.xz" as kbuild writes it,
// ".ko.zst", ".ko.gz"; see CompressModule) at its path with that suffix,
// with the tree's module lists, indexed by the depmod program depmod (see
// Depmod). It returns the tree's files keyed by guest path below
// guestRoot, for "modprobe -d GUESTROOT": a tree in a format the kernel
// cannot decompress makes kmod and gokmod decompress in user space.
func RecompressedTree(ctx context.Context, root, release string, names []string, suffix, depmod, dir, guestRoot string) (map[string]File, error) {
	rels, err := ModuleClosure(root, release, names)
	if err != nil {
		return nil, err
	}
	src, dst := testmod.ModuleDir(root, release), testmod.ModuleDir(dir, release)
	for _, rel := range rels {
		mod, err := ReadModule(ctx, filepath.Join(src, rel))
		if err != nil {
			return nil, err
		}
		data, err := CompressModule(ctx, mod, suffix)
		if err != nil {
			return nil, err
		}
		out := filepath.Join(dst, rel[:len(rel)-len(ModuleSuffix(rel))]+suffix)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return nil, fmt.Errorf("vmtest: %w", err)
		}
		if err := os.WriteFile(out, data, 0o644); err != nil {
			return nil, fmt.Errorf("vmtest: %w", err)
		}
	}
	for _, rel := range moduleFiles {
		if err := copyFile(filepath.Join(dst, rel), filepath.Join(src, rel), 0o644); err != nil {
			return nil, err
		}
	}
	if err := Depmod(ctx, depmod, dir, release); err != nil {
		return nil, err
	}
	return DirFiles(dir, guestRoot)
}

// DirFiles returns the regular files below the host directory dir as
// Files keyed by their guest paths below guestDir.
func DirFiles(dir, guestDir string) (map[string]File, error) {
	files := map[string]File{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		files[path.Join(guestDir, filepath.ToSlash(rel))] = HostFile(p)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("vmtest: %w", err)
	}
	return files, nil
}
