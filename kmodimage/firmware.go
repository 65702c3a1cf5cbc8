package kmodimage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gokmod/modprobe/internal/kernel"
)

// SetFirmwareClassPath makes the kernel look for firmware in dir as well
// as its built-in paths: it writes dir to the firmware_class.path
// parameter under sysfsDir ("" means "/sys") unless it already holds it.
// The parameter holds one path, so this replaces any other custom path.
func SetFirmwareClassPath(sysfsDir, dir string) error {
	if sysfsDir == "" {
		sysfsDir = "/sys"
	}
	if cur, err := kernel.ReadParameter(sysfsDir, "firmware_class", "path"); err == nil && cur == dir {
		return nil
	}
	param := filepath.Join(sysfsDir, "module/firmware_class/parameters/path")
	f, err := os.OpenFile(param, os.O_WRONLY|os.O_TRUNC, 0)
	if err == nil {
		_, err = io.WriteString(f, dir)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("could not set the firmware_class.path parameter: %w", err)
	}
	return nil
}

// CopyFirmware copies the tree src into dst, as KMM's worker copies an
// image's firmware to the host: directories are created, files and
// symbolic links replace what dst holds under the same name, and nothing
// else in dst changes. Every write goes through dst (an os.Root), so a
// symbolic link already in dst cannot send it elsewhere.
func CopyFirmware(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("failed to copy firmware from path %s to path %s: %w", src, dst, err)
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return fmt.Errorf("failed to copy firmware from path %s to path %s: %w", src, dst, err)
	}
	defer root.Close()
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		switch {
		case d.IsDir():
			return root.MkdirAll(rel, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := root.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return root.Symlink(target, rel)
		case d.Type().IsRegular():
			return copyFile(root, p, rel)
		}
		return fmt.Errorf("%s: not a file, directory or symbolic link", p)
	})
	if err != nil {
		return fmt.Errorf("failed to copy firmware from path %s to path %s: %w", src, dst, err)
	}
	return nil
}

// copyFile copies the regular file src to rel in root, replacing it.
func copyFile(root *os.Root, src, rel string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	// A symbolic link or other non-file at rel is replaced, not written
	// through.
	if fi, err := root.Lstat(rel); err == nil && !fi.Mode().IsRegular() {
		if err := root.Remove(rel); err != nil {
			return err
		}
	}
	out, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// RemoveFirmwareFiles removes from dst the files (not the directories)
// that src holds, as KMM's worker does after an unload. It goes on past
// failures and returns them; a file already gone is no failure.
func RemoveFirmwareFiles(src, dst string) []error {
	root, err := os.OpenRoot(dst)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return []error{err}
	}
	defer root.Close()
	var errs []error
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if err := root.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing firmware file %s: %w", filepath.Join(dst, rel), err))
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return errs
}
