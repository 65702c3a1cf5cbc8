package kmodimage

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
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
	// HostModules, if set, is an absolute directory (KMM's "/host/lib/modules") that symlinks in the extracted tree may point into; any other absolute symlink target is refused.
	HostModules string
	// MaxFileSize caps each regular file; zero means DefaultMaxFileSize (1 GiB).
	MaxFileSize int64
	// MaxTotalSize caps the bytes written in all; zero means DefaultMaxTotalSize (8 GiB).
	MaxTotalSize int64
	// MaxEntries caps the number of entries extracted; zero means DefaultMaxEntries (1<<20).
	MaxEntries int
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
// ExtractOptions: a file's size, the total size or the number of entries.
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

// Names of the image's whiteout entries (see the OCI image spec's layer
// changesets).
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// tmpPrefix starts the name of Extract's temporary directory in dst.
const tmpPrefix = ".gokmod-extract-"

// Extract writes the files of img under dst, at their image paths:
// dst/DIRNAME/lib/modules/KERNEL/... and dst/FIRMWAREPATH/..., and nothing
// else.
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
// When the image has nothing at DIRNAME/lib/modules/KERNEL the error wraps
// ErrNotInImage and lists the kernel versions the image has; likewise for
// a requested firmware path. ctx is checked between entries, and the
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
	return p.extract(ctx, img, dst)
}

// extract is Extract with checked options.
func (p plan) extract(ctx context.Context, img v1.Image, dst string) (err error) {
	created := false
	if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return fmt.Errorf("extract image: %w", err)
		}
		created = true
	}
	dstRoot, err := os.OpenRoot(dst)
	if err != nil {
		return fmt.Errorf("extract image: %w", err)
	}
	defer dstRoot.Close()
	tmp, err := makeTempDir(dstRoot)
	if err != nil {
		return fmt.Errorf("extract image: %w", err)
	}
	defer func() {
		if rmErr := dstRoot.RemoveAll(tmp); rmErr != nil && err == nil {
			err = fmt.Errorf("extract image: removing the temporary directory: %w", rmErr)
		}
		if err != nil && created {
			os.Remove(dst) // only succeeds if dst is empty
		}
	}()
	root, err := dstRoot.OpenRoot(tmp)
	if err != nil {
		return fmt.Errorf("extract image: %w", err)
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
	if err := x.run(img); err != nil {
		return err
	}
	if err := p.commit(dstRoot, tmp); err != nil {
		return fmt.Errorf("extract image: %w", err)
	}
	return nil
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
	parts       []part // the kernel directory, then the firmware path if any
	hostModules string
	maxFile     int64
	maxTotal    int64
	maxEntries  int
}

// newPlan checks opts and applies the defaults.
func newPlan(opts ExtractOptions) (plan, error) {
	dirName := opts.DirName
	if dirName == "" {
		dirName = "/opt"
	}
	if err := checkAbsDir("DirName", dirName, true); err != nil {
		return plan{}, err
	}
	k := opts.KernelVersion
	if k == "" || k == "." || k == ".." || strings.ContainsAny(k, "/\x00") {
		return plan{}, fmt.Errorf("extract image: KernelVersion %q is not a single path element", k)
	}
	p := plan{
		modules:     path.Join(strings.TrimPrefix(dirName, "/"), "lib/modules"),
		kernel:      k,
		hostModules: opts.HostModules,
		maxFile:     orDefault(opts.MaxFileSize, DefaultMaxFileSize),
		maxTotal:    orDefault(opts.MaxTotalSize, DefaultMaxTotalSize),
		maxEntries:  orDefault(opts.MaxEntries, DefaultMaxEntries),
	}
	p.parts = []part{{rel: path.Join(p.modules, k), what: "kernel directory"}}
	if fw := opts.FirmwarePath; fw != "" {
		if err := checkAbsDir("FirmwarePath", fw, false); err != nil {
			return plan{}, err
		}
		rel := strings.TrimPrefix(fw, "/")
		if within(rel, p.parts[0].rel) || within(p.parts[0].rel, rel) {
			return plan{}, fmt.Errorf("extract image: FirmwarePath %s overlaps the kernel directory %s", fw, p.parts[0].abs())
		}
		p.parts = append(p.parts, part{rel: rel, what: "firmware path"})
	}
	if p.hostModules != "" {
		if err := checkAbsDir("HostModules", p.hostModules, false); err != nil {
			return plan{}, err
		}
	}
	if p.maxFile < 0 || p.maxTotal < 0 || p.maxEntries < 0 {
		return plan{}, errors.New("extract image: negative limit")
	}
	return p, nil
}

// checkAbsDir checks that the option named opt is an absolute clean path,
// and not "/" unless rootOK.
func checkAbsDir(opt, dir string, rootOK bool) error {
	switch {
	case !path.IsAbs(dir) || path.Clean(dir) != dir || strings.ContainsRune(dir, 0):
		return fmt.Errorf("extract image: %s %q is not an absolute clean path", opt, dir)
	case dir == "/" && !rootOK:
		return fmt.Errorf("extract image: %s may not be /", opt)
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

// run applies img's layers in order and checks that the parts exist.
func (x *extractor) run(img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("extract image: %w", err)
	}
	for _, pt := range x.parts {
		if err := x.root.MkdirAll(path.Dir(pt.rel), 0o755); err != nil {
			return fmt.Errorf("extract image: %w", err)
		}
	}
	for i, l := range layers {
		if err := x.layer(l); err != nil {
			return fmt.Errorf("extract image: layer %d: %w", i, err)
		}
	}
	for i, pt := range x.parts {
		if _, err := x.root.Lstat(pt.rel); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("extract image: %w", err)
		}
		if i == 0 { // the kernel directory
			return fmt.Errorf("extract image: %s: %w (%s)", pt.abs(), ErrNotInImage, x.haveVersions())
		}
		return fmt.Errorf("extract image: %s %s: %w", pt.what, pt.abs(), ErrNotInImage)
	}
	return nil
}

// haveVersions describes the kernel versions the image has.
func (x *extractor) haveVersions() string {
	delete(x.versions, x.kernel)
	if len(x.versions) == 0 {
		return fmt.Sprintf("the image has no kernel versions under /%s", x.modules)
	}
	vs := slices.Sorted(func(yield func(string) bool) {
		for v := range x.versions {
			if !yield(v) {
				return
			}
		}
	})
	return fmt.Sprintf("image has %s under /%s", strings.Join(vs, ", "), x.modules)
}

// layer applies one layer.
func (x *extractor) layer(l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	clear(x.current)
	tr := tar.NewReader(rc)
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := x.entry(hdr, tr); err != nil {
			return &EntryError{Entry: hdr.Name, Err: err}
		}
	}
}

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
	switch {
	case target == "":
		return fmt.Errorf("%w: empty symlink target", ErrUnsafeEntry)
	case strings.ContainsRune(target, 0):
		return fmt.Errorf("%w: symlink target holds NUL", ErrUnsafeEntry)
	case path.IsAbs(target):
		if x.hostModules == "" {
			return fmt.Errorf("%w: absolute symlink target %q", ErrUnsafeEntry, target)
		}
		if path.Clean(target) != strings.TrimSuffix(target, "/") || !within(path.Clean(target), x.hostModules) {
			return fmt.Errorf("%w: absolute symlink target %q is not a clean path in %s", ErrUnsafeEntry, target, x.hostModules)
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
