package kmodimage

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// extractor applies an image's layers to a temporary directory.
type extractor struct {
	ctx  context.Context
	root *os.Root // the temporary directory
	plan
	entries int   // entries of the parts applied so far
	total   int64 // bytes written so far
	// current holds the paths in the parts that the current layer wrote,
	// directly or as parents; whiteouts keep them.
	current map[string]bool
	// dirs caches the paths in the parts known to be directories.
	dirs map[string]bool
	// versions holds the kernel versions seen under plan.modules.
	versions map[string]bool
}

// maxVersions caps the kernel versions kept for ErrNotInImage's message.
const maxVersions = 32

// cleanName returns the clean name of an entry of the image, "" for the
// image's root, or an error wrapping ErrUnsafeEntry.
func cleanName(raw string) (string, error) {
	if strings.ContainsRune(raw, 0) {
		return "", fmt.Errorf("%w: name holds NUL", ErrUnsafeEntry)
	}
	n := raw
	for strings.HasPrefix(n, "./") {
		n = n[2:]
	}
	if strings.HasPrefix(n, "/") {
		return "", fmt.Errorf("%w: absolute name", ErrUnsafeEntry)
	}
	if slices.Contains(strings.Split(n, "/"), "..") {
		return "", fmt.Errorf("%w: name has a \"..\" element", ErrUnsafeEntry)
	}
	n = path.Clean(n)
	if n == "." {
		return "", nil
	}
	return n, nil
}

// entry applies one entry of a layer; r reads its body.
func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	name, err := cleanName(hdr.Name)
	if err != nil || name == "" {
		return err
	}
	if base := path.Base(name); strings.HasPrefix(base, whiteoutPrefix) {
		return x.whiteout(name, base)
	}
	if rest, ok := strings.CutPrefix(name, x.modules+"/"); ok && len(x.versions) < maxVersions {
		if v, _, below := strings.Cut(rest, "/"); below || hdr.Typeflag == tar.TypeDir {
			x.versions[v] = true
		}
	}
	i := slices.IndexFunc(x.parts, func(p part) bool { return p.contains(name) })
	if i < 0 {
		return nil // not wanted; the tar reader skips the body
	}
	pt := x.parts[i]
	if err := x.count(); err != nil {
		return err
	}
	if name == pt.rel && hdr.Typeflag != tar.TypeDir {
		return fmt.Errorf("%w: the %s is not a directory", ErrUnsafeEntry, pt.what)
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.mkdir(name, pt)
	case tar.TypeReg, tar.TypeGNUSparse:
		return x.file(name, pt, hdr, r)
	case tar.TypeSymlink:
		return x.symlink(name, pt, hdr.Linkname)
	case tar.TypeLink:
		return x.link(name, pt, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return fmt.Errorf("%w: device node", ErrUnsafeEntry)
	case tar.TypeFifo:
		return fmt.Errorf("%w: FIFO", ErrUnsafeEntry)
	default:
		return fmt.Errorf("%w: entry type %q", ErrUnsafeEntry, hdr.Typeflag)
	}
}

// count counts an entry against the limit.
func (x *extractor) count() error {
	x.entries++
	if x.entries > x.maxEntries {
		return fmt.Errorf("%w: more than %d entries", ErrTooLarge, x.maxEntries)
	}
	return nil
}

// mkdir applies a directory entry.
func (x *extractor) mkdir(name string, pt part) error {
	if err := x.parents(name, pt); err != nil {
		return err
	}
	fi, err := x.root.Lstat(name)
	switch {
	case err == nil && fi.IsDir():
	case err == nil:
		if err := x.root.Remove(name); err != nil {
			return err
		}
		fallthrough
	case errors.Is(err, fs.ErrNotExist):
		if err := x.root.Mkdir(name, 0o755); err != nil {
			return err
		}
	default:
		return err
	}
	x.dirs[name] = true
	x.current[name] = true
	return x.root.Chmod(name, 0o755)
}

// parents makes sure the directories above name in pt exist, creating
// them if needed, and that none is a symlink.
func (x *extractor) parents(name string, pt part) error {
	if name == pt.rel {
		return nil
	}
	dir := path.Dir(name)
	if err := x.parents(dir, pt); err != nil {
		return err
	}
	x.current[dir] = true
	if x.dirs[dir] {
		return nil
	}
	fi, err := x.root.Lstat(dir)
	switch {
	case err == nil && fi.IsDir():
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: /%s is a symlink", ErrUnsafeEntry, dir)
	case err == nil:
		// A file of a lower layer where this layer has a directory.
		if err := x.root.Remove(dir); err != nil {
			return err
		}
		fallthrough
	case errors.Is(err, fs.ErrNotExist):
		if err := x.root.Mkdir(dir, 0o755); err != nil {
			return err
		}
		if err := x.root.Chmod(dir, 0o755); err != nil {
			return err
		}
	default:
		return err
	}
	x.dirs[dir] = true
	return nil
}

// realParents checks, without creating anything, that the directories
// above name in pt exist and are not symlinks. A missing one gives an error
// wrapping fs.ErrNotExist, a symlink one wrapping ErrUnsafeEntry.
func (x *extractor) realParents(name string, pt part) error {
	for dir := path.Dir(name); name != pt.rel && within(dir, pt.rel); dir = path.Dir(dir) {
		if x.dirs[dir] {
			continue
		}
		fi, err := x.root.Lstat(dir)
		switch {
		case err != nil:
			return err
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%w: /%s is a symlink", ErrUnsafeEntry, dir)
		case !fi.IsDir():
			return fmt.Errorf("/%s: %w", dir, fs.ErrNotExist)
		}
	}
	return nil
}

// replace makes way for a non-directory entry at name: it creates the
// parents and removes what a lower layer left at name.
func (x *extractor) replace(name string, pt part) error {
	if err := x.parents(name, pt); err != nil {
		return err
	}
	fi, err := x.root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = nil
	case err != nil:
	case fi.IsDir():
		err = x.root.RemoveAll(name)
		clear(x.dirs)
	default:
		err = x.root.Remove(name)
	}
	x.current[name] = true
	return err
}

// file applies a regular file entry.
func (x *extractor) file(name string, pt part, hdr *tar.Header, r io.Reader) error {
	if hdr.Size > x.maxFile {
		return fmt.Errorf("%w: %d bytes, over the limit of %d per file", ErrTooLarge, hdr.Size, x.maxFile)
	}
	if hdr.Size > x.maxTotal-x.total {
		return fmt.Errorf("%w: %d bytes would bring the total over the limit of %d", ErrTooLarge, hdr.Size, x.maxTotal)
	}
	if err := x.replace(name, pt); err != nil {
		return err
	}
	perm := fs.FileMode(0o644)
	if hdr.Mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	n, err := io.CopyN(f, r, hdr.Size)
	x.total += n
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		err = fmt.Errorf("copying the body (%d of %d bytes): %w", n, hdr.Size, err)
	}
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// symlink applies a symlink entry after checking its target.
func (x *extractor) symlink(name string, pt part, target string) error {
	if err := x.checkSymlink(name, pt, target); err != nil {
		return err
	}
	if err := x.replace(name, pt); err != nil {
		return err
	}
	return x.root.Symlink(target, name)
}

// checkSymlink checks that the symlink name in pt, pointing to target,
// stays in pt or goes to the host's module tree.
//
// A relative target may climb only with leading ".." elements: then the
// lexical resolution from the link's directory, which is a real directory
// since nothing is extracted below a symlink, is the real one up to the
// first element that descends, and every later element descends from
// inside pt or follows a link that was itself checked so.
func (x *extractor) checkSymlink(name string, pt part, target string) error {
	return checkLinkTarget(name, pt, target, x.hostModules)
}

// checkLinkTarget is checkSymlink, with the host's module tree given as
// hostModules ("" for none): CopyFirmware checks links with it too.
func checkLinkTarget(name string, pt part, target, hostModules string) error {
	switch {
	case target == "":
		return fmt.Errorf("%w: empty symlink target", ErrUnsafeEntry)
	case strings.ContainsRune(target, 0):
		return fmt.Errorf("%w: symlink target holds NUL", ErrUnsafeEntry)
	case path.IsAbs(target):
		if hostModules == "" {
			return fmt.Errorf("%w: absolute symlink target %q", ErrUnsafeEntry, target)
		}
		if path.Clean(target) != strings.TrimSuffix(target, "/") || !within(path.Clean(target), hostModules) {
			return fmt.Errorf("%w: absolute symlink target %q is not a clean path in %s", ErrUnsafeEntry, target, hostModules)
		}
		return nil
	}
	descended := false
	for _, el := range strings.Split(target, "/") {
		switch el {
		case "", ".":
		case "..":
			if descended {
				return fmt.Errorf("%w: symlink target %q climbs after descending", ErrUnsafeEntry, target)
			}
		default:
			descended = true
		}
	}
	if !pt.contains(path.Join(path.Dir(name), target)) {
		return fmt.Errorf("%w: symlink target %q leaves the %s", ErrUnsafeEntry, target, pt.what)
	}
	return nil
}

// link applies a hard link entry: its target must be a regular file
// already extracted in pt.
func (x *extractor) link(name string, pt part, linkname string) error {
	target, err := cleanName(linkname)
	if err != nil {
		return fmt.Errorf("hard link target: %w", err)
	}
	if target == name || !pt.contains(target) {
		return fmt.Errorf("%w: hard link to %q, not a file of the %s", ErrUnsafeEntry, linkname, pt.what)
	}
	if err := x.realParents(target, pt); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: hard link to %q, not an extracted file", ErrUnsafeEntry, linkname)
		}
		return err
	}
	if fi, err := x.root.Lstat(target); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: hard link to %q, not an extracted file", ErrUnsafeEntry, linkname)
	}
	if err := x.replace(name, pt); err != nil {
		return err
	}
	return x.root.Link(target, name)
}
