package kmodimage

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Names of the image's whiteout entries (see the OCI image spec's layer
// changesets).
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// whiteout applies a whiteout entry: ".wh.NAME" removes NAME of the lower
// layers, ".wh..wh..opq" the lower layers' contents of its directory.
func (x *extractor) whiteout(name, base string) error {
	dir := path.Dir(name)
	var target string
	keepSelf := false
	switch {
	case base == whiteoutOpaque:
		target, keepSelf = dir, true
	case strings.HasPrefix(base, whiteoutMeta):
		return nil // other AUFS metadata
	default:
		b := strings.TrimPrefix(base, whiteoutPrefix)
		if b == "" || b == "." || b == ".." {
			return fmt.Errorf("%w: whiteout of %q", ErrUnsafeEntry, b)
		}
		target = path.Join(dir, b)
	}
	for _, pt := range x.parts {
		var err error
		switch {
		case pt.contains(target):
			if err = x.count(); err != nil {
				return err
			}
			if err = x.realParents(target, pt); err == nil {
				err = x.removeLower(target, keepSelf)
			} else if errors.Is(err, fs.ErrNotExist) {
				err = nil // nothing to remove
			}
		case within(pt.rel, target):
			if err = x.count(); err == nil {
				err = x.removeLower(pt.rel, false)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// removeLower removes what lower layers left at name, keeping what the
// current layer wrote; with keepSelf it keeps name itself and removes
// only its contents.
func (x *extractor) removeLower(name string, keepSelf bool) error {
	fi, err := x.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !keepSelf && !x.current[name] {
		clear(x.dirs)
		return x.root.RemoveAll(name)
	}
	if !fi.IsDir() {
		return nil
	}
	d, err := x.root.Open(name)
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := x.removeLower(name+"/"+n, false); err != nil {
			return err
		}
	}
	return nil
}
