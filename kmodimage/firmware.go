package kmodimage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"

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
	if err := kernel.WriteParameter(sysfsDir, "firmware_class", "path", dir); err != nil {
		return fmt.Errorf("could not set the firmware_class.path parameter: %w", err)
	}
	return nil
}

// CopyFirmware copies the tree src into dst, as KMM's worker copies an
// image's firmware to the host: directories are created, files and
// symbolic links replace what dst holds under the same name, and nothing
// else in dst changes. src is read through an os.Root, so no symbolic link
// in it leads the copy elsewhere, and a symbolic link is copied only when
// its target stays inside src (a relative target that climbs only with
// leading ".." elements), as Extract allows in an image's firmware path;
// any other fails the copy with an error wrapping ErrUnsafeEntry. Every
// write goes through dst (an os.Root), so a symbolic link already in dst
// cannot send it elsewhere either.
func CopyFirmware(src, dst string) error {
	if err := copyFirmware(src, dst); err != nil {
		return fmt.Errorf("failed to copy firmware from path %s to path %s: %w", src, dst, err)
	}
	return nil
}

// firmwarePart stands for the source tree of CopyFirmware when its links
// are checked as an image's parts are.
const firmwarePart = "firmware"

func copyFirmware(src, dst string) error {
	from, err := os.OpenRoot(src)
	if err != nil {
		return err
	}
	defer from.Close()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	to, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer to.Close()
	return walkFirmware(from, src, func(rel string, d fs.DirEntry, target string) error {
		switch {
		case d.IsDir():
			return to.MkdirAll(rel, 0o755)
		case target != "":
			if err := to.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return to.Symlink(target, rel)
		}
		return copyFile(from, to, rel)
	})
}

// CheckFirmware checks the tree src as CopyFirmware would copy it,
// writing nothing: the worker checks the Module's firmware before it
// changes anything on the node.
func CheckFirmware(src string) error {
	from, err := os.OpenRoot(src)
	if err == nil {
		defer from.Close()
		err = walkFirmware(from, src, nil)
	}
	if err != nil {
		return fmt.Errorf("firmware at path %s: %w", src, err)
	}
	return nil
}

// walkFirmware walks the tree of from (opened at src) and calls visit,
// unless nil, for each directory, regular file and symbolic link below
// its top, with the link's target (checked to stay in the tree) or "".
// Anything else fails the walk.
func walkFirmware(from *os.Root, src string, visit func(rel string, d fs.DirEntry, target string) error) error {
	pt := part{rel: firmwarePart, what: "firmware directory " + src}
	return fs.WalkDir(from.FS(), ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil || rel == "." {
			return err
		}
		var target string
		switch {
		case d.IsDir(), d.Type().IsRegular():
		case d.Type()&fs.ModeSymlink != 0:
			if target, err = from.Readlink(rel); err != nil {
				return err
			}
			if err := checkLinkTarget(path.Join(firmwarePart, rel), pt, target, ""); err != nil {
				return fmt.Errorf("%s: %w", filepath.Join(src, rel), err)
			}
		default:
			return fmt.Errorf("%s: %w: not a file, directory or symbolic link", filepath.Join(src, rel), ErrUnsafeEntry)
		}
		if visit == nil {
			return nil
		}
		return visit(rel, d, target)
	})
}

// copyFile copies the regular file rel of from to rel in to, replacing
// it.
func copyFile(from, to *os.Root, rel string) error {
	// Not blocking on a FIFO put there since the walk saw a file.
	in, err := from.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		// Put there since the walk.
		return fmt.Errorf("%s: %w: not a regular file", rel, ErrUnsafeEntry)
	}
	// A symbolic link or other non-file at rel is replaced, not written
	// through.
	if fi, err := to.Lstat(rel); err == nil && !fi.Mode().IsRegular() {
		if err := to.Remove(rel); err != nil {
			return err
		}
	}
	out, err := to.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
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
