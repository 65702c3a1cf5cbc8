package kmodimage

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ExtractOptions say which part of a kmod image to extract and how much to accept.
type ExtractOptions struct {
	// DirName is the image's module root (KMM's dirName); empty means "/opt". Must be absolute and clean.
	DirName string
	// KernelVersion selects DirName/lib/modules/KernelVersion; required; a single path element (no "/", not "." or "..").
	KernelVersion string
	// FirmwarePath, if set, is an absolute directory in the image whose contents are extracted too.
	FirmwarePath string
	// ModprobedDir, if set, is an absolute directory in the image holding modprobe.d files (KMM's modprobedDir), extracted too.
	ModprobedDir string
	// HostModules, if set, is an absolute directory (KMM's "/host/lib/modules") that symlinks in the extracted tree may point into; any other absolute symlink target is refused.
	HostModules string
	// MaxFileSize caps each regular file; zero means DefaultMaxFileSize (1 GiB).
	MaxFileSize int64
	// MaxTotalSize caps the bytes written in all; zero means DefaultMaxTotalSize (8 GiB).
	MaxTotalSize int64
	// MaxEntries caps the number of entries extracted; zero means DefaultMaxEntries (1<<20).
	MaxEntries int
	// Index builds the module indexes (modules.dep and the others) with
	// gokmod's depmod when the image carries none, after every layer has
	// been checked and before the files are moved into place. depmod.d
	// configuration is not read.
	Index bool
}

// The limits Extract applies when ExtractOptions leave them zero.
const (
	// DefaultMaxFileSize is the largest regular file Extract writes.
	DefaultMaxFileSize int64 = 1 << 30
	// DefaultMaxTotalSize is the most bytes Extract writes in all.
	DefaultMaxTotalSize int64 = 8 << 30
	// DefaultMaxEntries is the most entries (files, directories, links and
	// whiteouts) of the wanted parts Extract applies.
	DefaultMaxEntries = 1 << 20
)

// ErrUnsafeEntry reports an entry of an image that could write outside the
// wanted parts if extracted naively: a name that is absolute, climbs with
// "..", or holds NUL; a symlink whose target escapes its part; a hard link
// to anything but a file already extracted in its part; a device node, FIFO
// or socket in a wanted part; an entry below a symlink.
var ErrUnsafeEntry = errors.New("unsafe entry in image")

// ErrTooLarge reports an image whose wanted parts go over a limit of
// ExtractOptions (a file's size, the total size or the number of
// entries), or a manifest, an index or a config over MaxManifestSize.
var ErrTooLarge = errors.New("image content over the size limit")

// ErrNotInImage reports that the image has no entries for the kernel
// directory, or for the firmware path when one is requested.
var ErrNotInImage = errors.New("not in the image")

// EntryError reports the entry of the image that stopped an extraction.
type EntryError struct {
	// Entry is the entry's name as the layer's tar archive gives it.
	Entry string
	// Err says what is wrong with it; it wraps ErrUnsafeEntry, ErrTooLarge
	// or the error of reading or writing the entry.
	Err error
}

// Error returns `image entry "NAME": ERR`.
func (e *EntryError) Error() string {
	return fmt.Sprintf("image entry %q: %v", e.Entry, e.Err)
}

// Unwrap returns e.Err.
func (e *EntryError) Unwrap() error { return e.Err }

// tmpPrefix starts the name of Extract's temporary directory in dst.
const tmpPrefix = ".gokmod-extract-"

// Extract writes the files of img under dst, at their image paths:
// dst/DIRNAME/lib/modules/KERNEL/..., dst/FIRMWAREPATH/... and
// dst/MODPROBEDDIR/..., and nothing else.
//
// The layers are applied in order, honouring whiteouts and opaque
// directories, into a temporary directory inside dst (created if missing);
// only when every layer has been applied are the parts moved into place,
// each replacing the directory of the same name as a whole. On error
// nothing is left behind in dst. All writes go through an os.Root, and an
// image that tries to escape its parts fails the extraction with an
// *EntryError wrapping ErrUnsafeEntry: absolute names or names with ".."
// anywhere in the image; in the wanted parts, symlinks whose target leaves
// the part (a relative target may only climb with leading ".." elements;
// an absolute one must lie in opts.HostModules), hard links to anything but
// a file already extracted in the same part, device nodes, FIFOs, sockets,
// and entries below a symlink. Regular files get mode 0755 if any execute
// bit is set in the image and 0644 otherwise; directories get 0755;
// ownership and times are not kept. Going over a limit of opts fails with
// an *EntryError wrapping ErrTooLarge, before the file is written.
//
// Before anything is indexed or moved into place, the image is checked:
// the config against the manifest, every layer's blob, read to its end,
// against the manifest's digest and size, and its tar archive against
// the config's diff_id (layers are decompressed by their magic number:
// gzip, zstd or plain tar). A "tarball:" image of OpenImage has no
// digests of its own for its layers (go-containerregistry computes its
// manifest from the layers' files): each layer's file is read as the
// tarball holds it and checked against the config's diff_id. A mismatch
// fails with an error wrapping ErrDigestMismatch that names the image
// (its reference when OpenImage returned it) and the digests expected
// and got.
//
// When the image has nothing at DIRNAME/lib/modules/KERNEL the error wraps
// ErrNotInImage and lists the kernel versions the image has; likewise for
// a requested firmware path or modprobe.d directory. ctx is checked between entries, and the
// layers' readers are always closed. Calls extracting into the same dst at
// once may fail, but never mix their files; Cache serves concurrent
// callers.
func Extract(ctx context.Context, img v1.Image, dst string, opts ExtractOptions) error {
	p, err := newPlan(opts)
	if err != nil {
		return err
	}
	if dst == "" {
		return errors.New("extract image: empty destination directory")
	}
	im, err := readManifest(img)
	if err != nil {
		return fmt.Errorf("extract image: %w", err)
	}
	return p.extract(ctx, im, dst)
}

// extract is Extract with checked options and the manifest read.
func (p plan) extract(ctx context.Context, im *imageManifest, dst string) error {
	if err := p.extractChecked(ctx, im, dst); err != nil {
		return fmt.Errorf("extract image %s: %w", im.name, err)
	}
	return nil
}

// extractChecked does extract's work.
func (p plan) extractChecked(ctx context.Context, im *imageManifest, dst string) (err error) {
	created := false
	if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		created = true
	}
	dstRoot, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer dstRoot.Close()
	tmp, err := makeTempDir(dstRoot)
	if err != nil {
		return err
	}
	defer func() {
		if rmErr := dstRoot.RemoveAll(tmp); rmErr != nil && err == nil {
			err = fmt.Errorf("removing the temporary directory: %w", rmErr)
		}
		if err != nil && created {
			os.Remove(dst) // only succeeds if dst is empty
		}
	}()
	root, err := dstRoot.OpenRoot(tmp)
	if err != nil {
		return err
	}
	defer root.Close()
	x := &extractor{
		ctx:      ctx,
		root:     root,
		plan:     p,
		current:  map[string]bool{},
		dirs:     map[string]bool{},
		versions: map[string]bool{},
	}
	// run returns once every layer has been read to its end and checked:
	// only then is the tree indexed and moved into place.
	if err := x.run(im); err != nil {
		return err
	}
	if p.index {
		if _, err := IndexTree(ctx, filepath.Join(dst, tmp, filepath.Dir(filepath.Dir(p.modules))), p.kernel); err != nil {
			return err
		}
	}
	return p.commit(dstRoot, tmp)
}

// makeTempDir creates an empty directory with a fresh name in root and
// returns its name.
func makeTempDir(root *os.Root) (string, error) {
	for range 10 {
		var b [8]byte
		rand.Read(b[:])
		name := tmpPrefix + hex.EncodeToString(b[:])
		err := root.Mkdir(name, 0o700)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", errors.New("cannot create a temporary directory")
}

// part is a directory of the image that Extract writes.
type part struct {
	rel  string // its name in the image and under dst: "opt/lib/modules/6.1.0"
	what string // what it is, for messages: "kernel directory"
}

// abs returns the part's absolute path in the image.
func (p part) abs() string { return "/" + p.rel }

// contains reports whether name is the part's directory or lies below it.
func (p part) contains(name string) bool { return within(name, p.rel) }

// within reports whether name is dir or lies below it; "." is the root.
func within(name, dir string) bool {
	return dir == "." || name == dir || strings.HasPrefix(name, dir+"/")
}

// plan is ExtractOptions checked and with defaults applied.
type plan struct {
	modules     string // "opt/lib/modules"
	kernel      string // the kernel version
	parts       []part // the kernel directory, then the firmware path and the modprobe.d directory if any
	hostModules string
	index       bool
	maxFile     int64
	maxTotal    int64
	maxEntries  int
}

// newPlan checks opts and applies the defaults.
func newPlan(opts ExtractOptions) (plan, error) {
	p, err := checkPlan(opts, optionNames())
	if err != nil {
		return plan{}, fmt.Errorf("extract image: %w", err)
	}
	return p, nil
}

// fieldNames name the options that select an image's parts, in errors.
type fieldNames struct{ dirName, kernel, firmware, modprobed string }

// optionNames returns ExtractOptions' names; ModuleConfig.Validate uses
// the worker configuration's (configNames).
func optionNames() fieldNames {
	return fieldNames{"DirName", "KernelVersion", "FirmwarePath", "ModprobedDir"}
}

// modprobedWhat names the modprobe.d directory's part.
const modprobedWhat = "modprobe.d directory"

// checkPlan is newPlan, naming the fields as names says.
func checkPlan(opts ExtractOptions, names fieldNames) (plan, error) {
	dirName := cmp.Or(opts.DirName, DefaultDirName)
	if err := checkAbsDir(names.dirName, dirName, true); err != nil {
		return plan{}, err
	}
	k := opts.KernelVersion
	if k == "" || k == "." || k == ".." || strings.ContainsAny(k, "/\x00") {
		return plan{}, fmt.Errorf("%s %q is not a single path element", names.kernel, k)
	}
	p := plan{
		modules:     path.Join(strings.TrimPrefix(dirName, "/"), "lib/modules"),
		kernel:      k,
		hostModules: opts.HostModules,
		index:       opts.Index,
		maxFile:     orDefault(opts.MaxFileSize, DefaultMaxFileSize),
		maxTotal:    orDefault(opts.MaxTotalSize, DefaultMaxTotalSize),
		maxEntries:  orDefault(opts.MaxEntries, DefaultMaxEntries),
	}
	p.parts = []part{{rel: path.Join(p.modules, k), what: "kernel directory"}}
	for _, o := range []struct{ name, dir, what string }{
		{names.firmware, opts.FirmwarePath, "firmware path"},
		{names.modprobed, opts.ModprobedDir, modprobedWhat},
	} {
		if o.dir == "" {
			continue
		}
		if err := checkAbsDir(o.name, o.dir, false); err != nil {
			return plan{}, err
		}
		rel := strings.TrimPrefix(o.dir, "/")
		for _, pt := range p.parts {
			if within(rel, pt.rel) || within(pt.rel, rel) {
				return plan{}, fmt.Errorf("%s %s overlaps the %s %s", o.name, o.dir, pt.what, pt.abs())
			}
		}
		p.parts = append(p.parts, part{rel: rel, what: o.what})
	}
	if p.hostModules != "" {
		if err := checkAbsDir("HostModules", p.hostModules, false); err != nil {
			return plan{}, err
		}
	}
	if p.maxFile < 0 || p.maxTotal < 0 || p.maxEntries < 0 {
		return plan{}, errors.New("negative limit")
	}
	return p, nil
}

// checkAbsDir checks that the option named opt is an absolute clean path,
// and not "/" unless rootOK.
func checkAbsDir(opt, dir string, rootOK bool) error {
	switch {
	case !path.IsAbs(dir) || path.Clean(dir) != dir || strings.ContainsRune(dir, 0):
		return fmt.Errorf("%s %q is not an absolute clean path", opt, dir)
	case dir == "/" && !rootOK:
		return fmt.Errorf("%s may not be /", opt)
	}
	return nil
}

// orDefault returns v, or def if v is zero.
func orDefault[T int | int64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// commit moves the parts extracted in tmp into place in dst, each
// replacing what was there. If a move fails it puts back what it can.
func (p plan) commit(dst *os.Root, tmp string) error {
	var undo []func()
	rollback := func() {
		for _, f := range slices.Backward(undo) {
			f()
		}
	}
	for i, pt := range p.parts {
		if err := dst.MkdirAll(path.Dir(pt.rel), 0o755); err != nil {
			rollback()
			return err
		}
		if _, err := dst.Lstat(pt.rel); err == nil {
			old := fmt.Sprintf("%s/old-%d", tmp, i)
			if err := dst.Rename(pt.rel, old); err != nil {
				rollback()
				return fmt.Errorf("moving the old %s aside: %w", pt.what, err)
			}
			undo = append(undo, func() { dst.Rename(old, pt.rel) })
		} else if !errors.Is(err, fs.ErrNotExist) {
			rollback()
			return err
		}
		staged := tmp + "/" + pt.rel
		if err := dst.Rename(staged, pt.rel); err != nil {
			rollback()
			return fmt.Errorf("moving the %s into place: %w", pt.what, err)
		}
		undo = append(undo, func() { dst.Rename(pt.rel, staged) })
	}
	return nil
}
