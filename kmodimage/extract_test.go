package kmodimage_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gokmod/modprobe/internal/registrytest"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/kmodimage"
)

// kver is the kernel version of the test images.
const kver = "6.1.0-test"

// kdir is the kernel directory of the test images, as named in them.
const kdir = "opt/lib/modules/" + kver

// entry is shorthand for registrytest.Entry.
type entry = registrytest.Entry

// file returns a regular file entry.
func file(name, data string) entry { return entry{Name: name, Data: []byte(data)} }

// dir returns a directory entry.
func dir(name string) entry { return entry{Name: name, Type: tar.TypeDir} }

// symlink returns a symlink entry.
func symlink(name, target string) entry {
	return entry{Name: name, Type: tar.TypeSymlink, Linkname: target}
}

// hardlink returns a hard link entry.
func hardlink(name, target string) entry {
	return entry{Name: name, Type: tar.TypeLink, Linkname: target}
}

// baseLayer is a plausible first layer: the directories down to the
// kernel directory and a module.
func baseLayer() []entry {
	return []entry{
		dir("opt/"), dir("opt/lib/"), dir("opt/lib/modules/"), dir(kdir + "/"),
		dir(kdir + "/extra/"), file(kdir+"/extra/good.ko", "good module"),
		file(kdir+"/modules.dep", "extra/good.ko:\n"),
	}
}

// opts returns the extract options for kver.
func opts() kmodimage.ExtractOptions {
	return kmodimage.ExtractOptions{KernelVersion: kver}
}

// sandbox is a destination directory nested in a temporary directory, so
// that a test can check that nothing was written beside it.
type sandbox struct {
	base string // the temporary directory
	dst  string // base/a/b/c/dst, not created
}

// newSandbox returns a sandbox whose dst does not exist yet.
func newSandbox(t *testing.T) sandbox {
	t.Helper()
	base := t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "a", "b", "c"), 0o755); err != nil {
		t.Fatal(err)
	}
	return sandbox{base: base, dst: filepath.Join(base, "a", "b", "c", "dst")}
}

// inDst returns the path in dst of the image path name.
func (s sandbox) inDst(name string) string { return filepath.Join(s.dst, filepath.FromSlash(name)) }

// files returns every path below base, relative and slash-separated, with
// "/" after directories and "@" after symlinks.
func (s sandbox) files(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(s.base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == s.base {
			return err
		}
		rel, _ := filepath.Rel(s.base, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			rel += "/"
		case d.Type()&fs.ModeSymlink != 0:
			rel += "@"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkEmpty fails t unless the sandbox holds nothing but its parent
// directories and, possibly, an empty dst.
func (s sandbox) checkEmpty(t *testing.T) {
	t.Helper()
	got := s.files(t)
	want := []string{"a/", "a/b/", "a/b/c/"}
	if !slices.Equal(got, want) && !slices.Equal(got, append(want, "a/b/c/dst/")) {
		t.Errorf("sandbox holds %q, want only %q and maybe an empty dst", got, want)
	}
}

// dstFiles returns the paths below dst as files does.
func (s sandbox) dstFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, f := range s.files(t) {
		if rest, ok := strings.CutPrefix(f, "a/b/c/dst/"); ok && rest != "" {
			out = append(out, rest)
		}
	}
	return out
}

// readFile returns the content of the image path name under dst.
func (s sandbox) readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(s.inDst(name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// extract extracts img into the sandbox.
func (s sandbox) extract(t *testing.T, img v1.Image, o kmodimage.ExtractOptions) error {
	t.Helper()
	return kmodimage.Extract(t.Context(), img, s.dst, o)
}

// mustExtract extracts img into the sandbox and fails t on error.
func (s sandbox) mustExtract(t *testing.T, img v1.Image, o kmodimage.ExtractOptions) {
	t.Helper()
	if err := s.extract(t, img, o); err != nil {
		t.Fatalf("Extract: %v", err)
	}
}

// countingImage counts the calls of Layers and the layer readers opened
// and closed, and can run a hook when a layer is opened.
type countingImage struct {
	v1.Image
	layersCalls    atomic.Int32
	opened, closed atomic.Int32
	onOpen         func(i int)
}

// Layers counts the call and wraps the layers.
func (c *countingImage) Layers() ([]v1.Layer, error) {
	c.layersCalls.Add(1)
	ls, err := c.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = &countingLayer{Layer: l, img: c, i: i}
	}
	return out, nil
}

// countingLayer is a layer of a countingImage.
type countingLayer struct {
	v1.Layer
	img *countingImage
	i   int
}

// Compressed counts the reader opened and its closing.
func (l *countingLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	l.img.opened.Add(1)
	if l.img.onOpen != nil {
		l.img.onOpen(l.i)
	}
	return &countingReader{ReadCloser: rc, closed: &l.img.closed}, nil
}

// countingReader counts its closing.
type countingReader struct {
	io.ReadCloser
	closed *atomic.Int32
	done   bool
}

// Close closes the reader and counts the first call.
func (r *countingReader) Close() error {
	if !r.done {
		r.done = true
		r.closed.Add(1)
	}
	return r.ReadCloser.Close()
}

func TestExtractBasic(t *testing.T) {
	s := newSandbox(t)
	layer := append(baseLayer(),
		entry{Name: "./" + kdir + "/kernel/drivers/x.ko", Data: []byte("x module")}, // "./" is stripped
		entry{Name: kdir + "/bin-tool", Mode: 0o4755, Data: []byte("#!")},           // setuid dropped
		entry{Name: kdir + "/private", Mode: 0o600, Data: []byte("p")},
		entry{Name: kdir + "/exec-owner", Mode: 0o700, Data: []byte("e")},
		entry{Name: kdir + "/locked/", Type: tar.TypeDir, Mode: 0o700},
		symlink(kdir+"/extra/alias.ko", "good.ko"),
		symlink(kdir+"/kernel/up.ko", "../extra/good.ko"),
		hardlink(kdir+"/extra/hard.ko", kdir+"/extra/good.ko"),
		// Outside the kernel directory: skipped, whatever they are.
		file("etc/passwd", "root::0:0"),
		file("opt/lib/modules/other-1/x.ko", "other"),
		entry{Name: "dev/null", Type: tar.TypeChar, Devmajor: 1, Devminor: 3},
		entry{Name: "opt/fifo", Type: tar.TypeFifo},
		symlink("opt/escape", "/etc"),
		hardlink("opt/hard", "etc/passwd"),
	)
	s.mustExtract(t, registrytest.Image(t, layer), opts())

	want := []string{
		"opt/", "opt/lib/", "opt/lib/modules/", kdir + "/",
		kdir + "/bin-tool", kdir + "/exec-owner", kdir + "/extra/",
		kdir + "/extra/alias.ko@", kdir + "/extra/good.ko", kdir + "/extra/hard.ko",
		kdir + "/kernel/", kdir + "/kernel/drivers/", kdir + "/kernel/drivers/x.ko", kdir + "/kernel/up.ko@",
		kdir + "/locked/", kdir + "/modules.dep", kdir + "/private",
	}
	if got := s.dstFiles(t); !slices.Equal(got, want) {
		t.Errorf("dst holds\n%q\nwant\n%q", got, want)
	}
	if got := s.readFile(t, kdir+"/kernel/up.ko"); got != "good module" {
		t.Errorf("through the symlink: %q", got)
	}
	if got := s.readFile(t, kdir+"/extra/hard.ko"); got != "good module" {
		t.Errorf("hard link: %q", got)
	}
	a, _ := os.Stat(s.inDst(kdir + "/extra/good.ko"))
	b, _ := os.Stat(s.inDst(kdir + "/extra/hard.ko"))
	if !os.SameFile(a, b) {
		t.Error("the hard link is a copy")
	}
	for name, want := range map[string]fs.FileMode{
		kdir + "/bin-tool":      0o755,
		kdir + "/private":       0o644,
		kdir + "/exec-owner":    0o755,
		kdir + "/extra/good.ko": 0o644,
		kdir + "/locked":        fs.ModeDir | 0o755,
		kdir:                    fs.ModeDir | 0o755,
	} {
		fi, err := os.Lstat(s.inDst(name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
		}
	}
}

func TestExtractDebianModule(t *testing.T) {
	root, release := testmod.DebianTree(t)
	mdir := filepath.Join(root, "lib/modules", release)
	matches, err := filepath.Glob(filepath.Join(mdir, "kernel/drivers/net/dummy.ko*"))
	if err != nil || len(matches) != 1 {
		t.Fatalf("dummy.ko in %s: %q, %v", mdir, matches, err)
	}
	ko, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	rel := "kernel/drivers/net/" + filepath.Base(matches[0])
	dep, err := os.ReadFile(filepath.Join(mdir, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	var depLine string
	for line := range strings.Lines(string(dep)) {
		if strings.HasPrefix(line, rel+":") {
			depLine = line
		}
	}
	if depLine == "" {
		t.Fatalf("no %s line in modules.dep", rel)
	}
	k := "opt/lib/modules/" + release
	img := registrytest.Image(t,
		[]entry{
			dir("opt/"), dir("opt/lib/"), dir("opt/lib/modules/"), dir(k + "/"),
			dir(k + "/kernel/drivers/net/"),
			{Name: k + "/" + rel, Data: ko},
			{Name: k + "/modules.dep", Data: []byte(depLine)},
			file(k+"/kernel/drivers/net/stale.ko", "removed above"),
			file("usr/bin/kmod", "not extracted"),
		},
		[]entry{
			file(k+"/kernel/drivers/net/.wh.stale.ko", ""),
			file("usr/.wh.bin", ""),
		},
	)
	s := newSandbox(t)
	s.mustExtract(t, img, kmodimage.ExtractOptions{KernelVersion: release})
	if got := s.readFile(t, k+"/"+rel); got != string(ko) {
		t.Errorf("%s differs from Debian's (%d bytes, want %d)", rel, len(got), len(ko))
	}
	if got := s.readFile(t, k+"/modules.dep"); got != depLine {
		t.Errorf("modules.dep = %q, want %q", got, depLine)
	}
	want := []string{
		"opt/", "opt/lib/", "opt/lib/modules/", k + "/", k + "/kernel/", k + "/kernel/drivers/",
		k + "/kernel/drivers/net/", k + "/" + rel, k + "/modules.dep",
	}
	if got := s.dstFiles(t); !slices.Equal(got, want) {
		t.Errorf("dst holds\n%q\nwant\n%q", got, want)
	}
}

func TestExtractWhiteouts(t *testing.T) {
	img := registrytest.Image(t,
		append(baseLayer(),
			file(kdir+"/a.ko", "a"),
			file(kdir+"/sub/c.ko", "c"), file(kdir+"/sub/d.ko", "d"),
			file(kdir+"/opq/e.ko", "e"), file(kdir+"/opq/deep/g.ko", "g"),
			file(kdir+"/late/h.ko", "h"),
			file(kdir+"/gone/i.ko", "i"),
			dir(kdir+"/was-dir/"), file(kdir+"/was-dir/j.ko", "j"),
			file(kdir+"/was-file", "k"),
		),
		[]entry{
			file(kdir+"/.wh.a.ko", ""),
			file(kdir+"/sub/.wh.c.ko", ""),
			// An opaque directory keeps what its own layer puts in it,
			// before or after the marker.
			file(kdir+"/opq/before.ko", "before"),
			file(kdir+"/opq/.wh..wh..opq", ""),
			file(kdir+"/opq/after.ko", "after"),
			// A whiteout only removes lower layers' files.
			file(kdir+"/late/new.ko", "new"),
			file(kdir+"/.wh.late", ""),
			file(kdir+"/.wh.gone", ""),
			file(kdir+"/was-dir", "now a file"),
			file(kdir+"/was-file/x.ko", "now a directory"),
			// Whiteouts elsewhere do not matter.
			file("etc/.wh.passwd", ""),
			file(".wh.usr", ""),
		},
	)
	s := newSandbox(t)
	s.mustExtract(t, img, opts())
	want := []string{
		"opt/", "opt/lib/", "opt/lib/modules/", kdir + "/",
		kdir + "/extra/", kdir + "/extra/good.ko",
		kdir + "/late/", kdir + "/late/new.ko",
		kdir + "/modules.dep",
		kdir + "/opq/", kdir + "/opq/after.ko", kdir + "/opq/before.ko",
		kdir + "/sub/", kdir + "/sub/d.ko",
		kdir + "/was-dir", kdir + "/was-file/", kdir + "/was-file/x.ko",
	}
	if got := s.dstFiles(t); !slices.Equal(got, want) {
		t.Errorf("dst holds\n%q\nwant\n%q", got, want)
	}
	if got := s.readFile(t, kdir+"/was-dir"); got != "now a file" {
		t.Errorf("was-dir holds %q", got)
	}
}

func TestExtractWhiteoutOfKernelDir(t *testing.T) {
	lower := append(baseLayer(), file("opt/lib/modules/other-1/x.ko", "x"))
	t.Run("replaced", func(t *testing.T) {
		img := registrytest.Image(t, lower,
			[]entry{file("opt/lib/modules/.wh."+kver, "")},
			[]entry{file(kdir+"/new.ko", "new")},
		)
		s := newSandbox(t)
		s.mustExtract(t, img, opts())
		want := []string{"opt/", "opt/lib/", "opt/lib/modules/", kdir + "/", kdir + "/new.ko"}
		if got := s.dstFiles(t); !slices.Equal(got, want) {
			t.Errorf("dst holds %q, want %q", got, want)
		}
	})
	for _, wh := range []string{"opt/lib/modules/.wh." + kver, ".wh.opt", "opt/lib/.wh..wh..opq"} {
		t.Run(wh, func(t *testing.T) {
			img := registrytest.Image(t, lower, []entry{file(wh, "")})
			s := newSandbox(t)
			err := s.extract(t, img, opts())
			if !errors.Is(err, kmodimage.ErrNotInImage) {
				t.Fatalf("Extract = %v, want ErrNotInImage", err)
			}
			s.checkEmpty(t)
		})
	}
}

func TestExtractNotInImage(t *testing.T) {
	img := registrytest.Image(t, []entry{
		dir("opt/lib/modules/6.1.0-13-amd64/"), file("opt/lib/modules/6.1.0-13-amd64/a.ko", "a"),
		file("opt/lib/modules/5.10.0-9-amd64/b.ko", "b"),
		file("opt/lib/modules/README", "not a kernel version"),
		file("firmware/fw.bin", "fw"),
	})
	s := newSandbox(t)
	err := s.extract(t, img, opts())
	if !errors.Is(err, kmodimage.ErrNotInImage) {
		t.Fatalf("Extract = %v, want ErrNotInImage", err)
	}
	for _, want := range []string{"/" + kdir, "5.10.0-9-amd64, 6.1.0-13-amd64"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	s.checkEmpty(t)

	o := kmodimage.ExtractOptions{KernelVersion: "6.1.0-13-amd64", FirmwarePath: "/lib/firmware"}
	err = s.extract(t, img, o)
	if !errors.Is(err, kmodimage.ErrNotInImage) || !strings.Contains(err.Error(), "/lib/firmware") {
		t.Fatalf("Extract = %v, want ErrNotInImage naming /lib/firmware", err)
	}
	s.checkEmpty(t)

	empty := registrytest.Image(t, []entry{file("etc/motd", "hi")})
	err = s.extract(t, empty, opts())
	if !errors.Is(err, kmodimage.ErrNotInImage) || !strings.Contains(err.Error(), "no kernel versions") {
		t.Fatalf("Extract = %v, want ErrNotInImage saying there are no kernel versions", err)
	}
}

func TestExtractFirmware(t *testing.T) {
	img := registrytest.Image(t, append(baseLayer(),
		dir("firmware/"), file("firmware/vendor/fw.bin", "blob"),
		symlink("firmware/vendor/current.bin", "fw.bin"),
		file("firmwarex/not.bin", "no"),
	))
	s := newSandbox(t)
	o := opts()
	o.FirmwarePath = "/firmware"
	s.mustExtract(t, img, o)
	if got := s.readFile(t, "firmware/vendor/current.bin"); got != "blob" {
		t.Errorf("firmware link reads %q", got)
	}
	if _, err := os.Lstat(s.inDst("firmwarex")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("firmwarex extracted: %v", err)
	}
	if got := s.readFile(t, kdir+"/extra/good.ko"); got != "good module" {
		t.Errorf("module reads %q", got)
	}
}

func TestExtractCustomDirName(t *testing.T) {
	img := registrytest.Image(t, []entry{
		file("custom/lib/modules/"+kver+"/m.ko", "m"),
		file(kdir+"/not.ko", "not"),
	})
	s := newSandbox(t)
	s.mustExtract(t, img, kmodimage.ExtractOptions{DirName: "/custom", KernelVersion: kver})
	want := []string{"custom/", "custom/lib/", "custom/lib/modules/", "custom/lib/modules/" + kver + "/", "custom/lib/modules/" + kver + "/m.ko"}
	if got := s.dstFiles(t); !slices.Equal(got, want) {
		t.Errorf("dst holds %q, want %q", got, want)
	}
}

func TestExtractHostModulesLink(t *testing.T) {
	hostLink := symlink(kdir+"/host", "/host/lib/modules/"+kver)
	img := registrytest.Image(t, append(baseLayer(), hostLink))
	s := newSandbox(t)
	o := opts()
	o.HostModules = "/host/lib/modules"
	s.mustExtract(t, img, o)
	if got, err := os.Readlink(s.inDst(kdir + "/host")); err != nil || got != "/host/lib/modules/"+kver {
		t.Errorf("host link = %q, %v", got, err)
	}

	s = newSandbox(t)
	err := s.extract(t, img, opts())
	if !errors.Is(err, kmodimage.ErrUnsafeEntry) {
		t.Fatalf("without HostModules: Extract = %v, want ErrUnsafeEntry", err)
	}
	s.checkEmpty(t)
}

// hostileCase is an image that Extract must refuse.
type hostileCase struct {
	name   string
	layers [][]entry
	opts   func(*kmodimage.ExtractOptions)
	want   error
	entry  string // the entry the error must name, if not ""
}

// hostileCases returns the hostile images; evil is a directory outside
// the sandbox that must stay empty.
func hostileCases(evil string) []hostileCase {
	withHost := func(o *kmodimage.ExtractOptions) { o.HostModules = "/host/lib/modules" }
	one := func(e ...entry) [][]entry { return [][]entry{append(baseLayer(), e...)} }
	return []hostileCase{
		{name: "traversal", layers: one(file("../../x", "x")), want: kmodimage.ErrUnsafeEntry, entry: "../../x"},
		{name: "traversal in kernel dir", layers: one(file(kdir+"/../../../../x", "x")), want: kmodimage.ErrUnsafeEntry},
		{name: "traversal after layer 0", layers: [][]entry{baseLayer(), {file("opt/../../x", "x")}}, want: kmodimage.ErrUnsafeEntry},
		{name: "absolute", layers: one(file("/etc/passwd", "root::0:0:")), want: kmodimage.ErrUnsafeEntry, entry: "/etc/passwd"},
		{name: "absolute evil", layers: one(file(evil+"/x", "x")), want: kmodimage.ErrUnsafeEntry},
		{name: "absolute hard link target", layers: one(file(evil+"/x", "x"), hardlink(kdir+"/h", evil+"/x")), want: kmodimage.ErrUnsafeEntry},
		{name: "whiteout of dotdot", layers: one(file(kdir+"/.wh...", "")), want: kmodimage.ErrUnsafeEntry},
		{name: "symlink climbing out", layers: one(symlink(kdir+"/escape", "../../../../../etc")), want: kmodimage.ErrUnsafeEntry},
		{name: "symlink to sibling kernel", layers: one(symlink(kdir+"/sib", "../other")), want: kmodimage.ErrUnsafeEntry},
		{name: "absolute symlink", layers: one(symlink(kdir+"/etc", "/etc")), want: kmodimage.ErrUnsafeEntry},
		{name: "absolute symlink with HostModules", layers: one(symlink(kdir+"/etc", "/etc")), opts: withHost, want: kmodimage.ErrUnsafeEntry},
		{name: "host symlink climbing", layers: one(symlink(kdir+"/h", "/host/lib/modules/../../../etc")), opts: withHost, want: kmodimage.ErrUnsafeEntry},
		{name: "host symlink prefix", layers: one(symlink(kdir+"/h", "/host/lib/modulesX")), opts: withHost, want: kmodimage.ErrUnsafeEntry},
		{name: "symlink chain", layers: one(symlink(kdir+"/a", "b"), symlink(kdir+"/b", "../../../../../etc")), want: kmodimage.ErrUnsafeEntry},
		// b -> . is harmless, but b/../x really resolves outside.
		{name: "symlink dot trick", layers: one(symlink(kdir+"/b", "."), symlink(kdir+"/a", "b/../../../x")), want: kmodimage.ErrUnsafeEntry},
		{name: "symlink dot trick lexically inside", layers: one(symlink(kdir+"/b", "."), symlink(kdir+"/a", "b/../x")), want: kmodimage.ErrUnsafeEntry},
		{name: "file through absolute symlink", layers: one(symlink(kdir+"/evil", "/tmp"), file(kdir+"/evil/x", "x")), want: kmodimage.ErrUnsafeEntry},
		// With HostModules, the link itself is allowed but not writing through it.
		{name: "file through allowed absolute symlink", layers: one(symlink(kdir+"/evil", evil), file(kdir+"/evil/x", "x")),
			opts: func(o *kmodimage.ExtractOptions) { o.HostModules = evil }, want: kmodimage.ErrUnsafeEntry, entry: kdir + "/evil/x"},
		{name: "dir through allowed absolute symlink", layers: one(symlink(kdir+"/evil", evil), dir(kdir+"/evil/d/")),
			opts: func(o *kmodimage.ExtractOptions) { o.HostModules = evil }, want: kmodimage.ErrUnsafeEntry},
		{name: "symlink through allowed absolute symlink", layers: one(symlink(kdir+"/evil", evil), symlink(kdir+"/evil/l", "../x")),
			opts: func(o *kmodimage.ExtractOptions) { o.HostModules = evil }, want: kmodimage.ErrUnsafeEntry},
		{name: "hard link through allowed absolute symlink", layers: one(symlink(kdir+"/evil", evil), hardlink(kdir+"/evil/h", kdir+"/extra/good.ko")),
			opts: func(o *kmodimage.ExtractOptions) { o.HostModules = evil }, want: kmodimage.ErrUnsafeEntry},
		{name: "whiteout through allowed absolute symlink", layers: [][]entry{append(baseLayer(), symlink(kdir+"/evil", evil)), {file(kdir+"/evil/.wh.keep", "")}},
			opts: func(o *kmodimage.ExtractOptions) { o.HostModules = evil }, want: kmodimage.ErrUnsafeEntry},
		{name: "file through host symlink", layers: one(symlink(kdir+"/host", "/host/lib/modules/"+kver), file(kdir+"/host/x.ko", "x")), opts: withHost, want: kmodimage.ErrUnsafeEntry, entry: kdir + "/host/x.ko"},
		{name: "file through relative symlink", layers: one(symlink(kdir+"/sub", "extra"), file(kdir+"/sub/x.ko", "x")), want: kmodimage.ErrUnsafeEntry},
		{name: "file through symlink of a lower layer", layers: [][]entry{append(baseLayer(), symlink(kdir+"/sub", "extra")), {file(kdir+"/sub/x.ko", "x")}}, want: kmodimage.ErrUnsafeEntry},
		{name: "hard link outside the part", layers: one(file("etc/shadow", "s"), hardlink(kdir+"/h", "etc/shadow")), want: kmodimage.ErrUnsafeEntry},
		{name: "hard link to missing file", layers: one(hardlink(kdir+"/h", kdir+"/missing.ko")), want: kmodimage.ErrUnsafeEntry},
		{name: "hard link to directory", layers: one(hardlink(kdir+"/h", kdir+"/extra")), want: kmodimage.ErrUnsafeEntry},
		{name: "hard link through symlink", layers: one(symlink(kdir+"/sub", "extra"), hardlink(kdir+"/h", kdir+"/sub/good.ko")), want: kmodimage.ErrUnsafeEntry},
		{name: "char device", layers: one(entry{Name: kdir + "/mem", Type: tar.TypeChar, Devmajor: 1, Devminor: 1}), want: kmodimage.ErrUnsafeEntry},
		{name: "block device", layers: one(entry{Name: kdir + "/sda", Type: tar.TypeBlock, Devmajor: 8}), want: kmodimage.ErrUnsafeEntry},
		{name: "fifo", layers: one(entry{Name: kdir + "/fifo", Type: tar.TypeFifo}), want: kmodimage.ErrUnsafeEntry},
		{name: "kernel dir is a symlink", layers: [][]entry{{dir("opt/lib/modules/"), symlink(kdir, "/etc")}}, want: kmodimage.ErrUnsafeEntry},
		{name: "kernel dir is a file", layers: [][]entry{{file(kdir, "x")}}, want: kmodimage.ErrUnsafeEntry},
		{name: "huge file", layers: one(entry{Name: kdir + "/huge.ko", Data: []byte("start"), Size: 2 << 30}), want: kmodimage.ErrTooLarge, entry: kdir + "/huge.ko"},
		{name: "file over MaxFileSize", layers: one(entry{Name: kdir + "/big.ko", Data: make([]byte, 2048)}),
			opts: func(o *kmodimage.ExtractOptions) { o.MaxFileSize = 1024 }, want: kmodimage.ErrTooLarge},
		{name: "total over MaxTotalSize", layers: one(
			entry{Name: kdir + "/1.ko", Data: make([]byte, 400)}, entry{Name: kdir + "/2.ko", Data: make([]byte, 400)},
			entry{Name: kdir + "/3.ko", Data: make([]byte, 400)}),
			opts: func(o *kmodimage.ExtractOptions) { o.MaxTotalSize = 1000 }, want: kmodimage.ErrTooLarge, entry: kdir + "/3.ko"},
		{name: "too many entries", layers: one(file(kdir+"/1", ""), file(kdir+"/2", ""), file(kdir+"/3", "")),
			opts: func(o *kmodimage.ExtractOptions) { o.MaxEntries = 6 }, want: kmodimage.ErrTooLarge},
		{name: "truncated body", layers: one(entry{Name: kdir + "/cut.ko", Data: []byte("0123456789"), Size: 100}), want: io.ErrUnexpectedEOF, entry: kdir + "/cut.ko"},
	}
}

func TestExtractHostile(t *testing.T) {
	evil := t.TempDir()
	if err := os.WriteFile(filepath.Join(evil, "keep"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range hostileCases(evil) {
		t.Run(tc.name, func(t *testing.T) {
			img := &countingImage{Image: registrytest.Image(t, tc.layers...)}
			o := opts()
			if tc.opts != nil {
				tc.opts(&o)
			}
			s := newSandbox(t)
			err := s.extract(t, img, o)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Extract = %v, want %v", err, tc.want)
			}
			t.Log(err)
			var ee *kmodimage.EntryError
			if !errors.As(err, &ee) {
				t.Fatalf("Extract = %v, not an *EntryError", err)
			}
			if tc.entry != "" && ee.Entry != tc.entry {
				t.Errorf("EntryError.Entry = %q, want %q", ee.Entry, tc.entry)
			}
			if !strings.Contains(err.Error(), `image entry "`+ee.Entry+`"`) {
				t.Errorf("error %q does not quote the entry", err)
			}
			s.checkEmpty(t)
			if o, c := img.opened.Load(), img.closed.Load(); o != c || o == 0 {
				t.Errorf("%d layer readers opened, %d closed", o, c)
			}
		})
	}
	if des, err := os.ReadDir(evil); err != nil || len(des) != 1 || des[0].Name() != "keep" {
		t.Errorf("%s changed: %v, %v", evil, des, err)
	}
	if now, err := os.ReadFile("/etc/passwd"); err != nil || !bytes.Equal(now, passwd) {
		t.Errorf("/etc/passwd changed: %v", err)
	}
}

func TestExtractHostileKeepsExisting(t *testing.T) {
	s := newSandbox(t)
	s.mustExtract(t, registrytest.Image(t, baseLayer()), opts())
	before := s.dstFiles(t)
	bad := registrytest.Image(t, append(baseLayer(), file(kdir+"/new.ko", "n"), symlink(kdir+"/x", "/etc")))
	if err := s.extract(t, bad, opts()); !errors.Is(err, kmodimage.ErrUnsafeEntry) {
		t.Fatalf("Extract = %v, want ErrUnsafeEntry", err)
	}
	if after := s.dstFiles(t); !slices.Equal(after, before) {
		t.Errorf("a failed extraction changed dst: %q, was %q", after, before)
	}
}

func TestExtractReplacesKernelDir(t *testing.T) {
	s := newSandbox(t)
	for _, f := range []string{kdir + "/stale.ko", kdir + "/extra/good.ko", "opt/lib/modules/other-1/keep.ko", "firmware/old.bin", "unrelated"} {
		p := s.inDst(f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := opts()
	o.FirmwarePath = "/firmware"
	s.mustExtract(t, registrytest.Image(t, append(baseLayer(), file("firmware/new.bin", "new"))), o)
	want := []string{
		"firmware/", "firmware/new.bin",
		"opt/", "opt/lib/", "opt/lib/modules/", kdir + "/", kdir + "/extra/", kdir + "/extra/good.ko", kdir + "/modules.dep",
		"opt/lib/modules/other-1/", "opt/lib/modules/other-1/keep.ko",
		"unrelated",
	}
	if got := s.dstFiles(t); !slices.Equal(got, want) {
		t.Errorf("dst holds\n%q\nwant\n%q", got, want)
	}
	if got := s.readFile(t, kdir+"/extra/good.ko"); got != "good module" {
		t.Errorf("good.ko = %q", got)
	}
}

func TestExtractContext(t *testing.T) {
	img := registrytest.Image(t, baseLayer(), []entry{file(kdir+"/second.ko", "2")})
	t.Run("cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		s := newSandbox(t)
		err := kmodimage.Extract(ctx, img, s.dst, opts())
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Extract = %v, want context.Canceled", err)
		}
		s.checkEmpty(t)
	})
	t.Run("cancelled between layers", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		ci := &countingImage{Image: img, onOpen: func(i int) {
			if i == 1 {
				cancel()
			}
		}}
		s := newSandbox(t)
		err := kmodimage.Extract(ctx, ci, s.dst, opts())
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Extract = %v, want context.Canceled", err)
		}
		s.checkEmpty(t)
		if o, c := ci.opened.Load(), ci.closed.Load(); o != 2 || c != 2 {
			t.Errorf("%d layer readers opened, %d closed; want 2 and 2", o, c)
		}
	})
}

func TestExtractClosesLayers(t *testing.T) {
	img := &countingImage{Image: registrytest.Image(t, baseLayer(), []entry{file(kdir+"/b.ko", "b")}, []entry{file("etc/x", "x")})}
	s := newSandbox(t)
	s.mustExtract(t, img, opts())
	if o, c := img.opened.Load(), img.closed.Load(); o != 3 || c != 3 {
		t.Errorf("%d layer readers opened, %d closed; want 3 and 3", o, c)
	}
}

func TestExtractOptionsChecked(t *testing.T) {
	img := registrytest.Image(t, baseLayer())
	for _, o := range []kmodimage.ExtractOptions{
		{},
		{KernelVersion: "a/b"},
		{KernelVersion: ".."},
		{KernelVersion: "."},
		{KernelVersion: kver, DirName: "opt"},
		{KernelVersion: kver, DirName: "/opt/"},
		{KernelVersion: kver, DirName: "/opt/../etc"},
		{KernelVersion: kver, FirmwarePath: "firmware"},
		{KernelVersion: kver, FirmwarePath: "/"},
		{KernelVersion: kver, FirmwarePath: "/opt"},
		{KernelVersion: kver, FirmwarePath: "/" + kdir + "/firmware"},
		{KernelVersion: kver, HostModules: "host"},
		{KernelVersion: kver, HostModules: "/"},
		{KernelVersion: kver, MaxFileSize: -1},
	} {
		s := newSandbox(t)
		if err := s.extract(t, img, o); err == nil {
			t.Errorf("Extract with %+v succeeded", o)
		}
		s.checkEmpty(t)
	}
}

// streamLayer is a layer whose tar archive is generated as it is read: one
// regular file in the kernel directory holding size zero bytes. Only
// Compressed works: the layer is a plain tar archive.
type streamLayer struct {
	v1.Layer
	size int64
	read *atomic.Int64 // bytes of the archive read
}

// Compressed returns the generated archive.
func (l streamLayer) Compressed() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Name: kdir + "/big.ko", Typeflag: tar.TypeReg, Mode: 0o644, Size: l.size})
		if err == nil {
			_, err = io.Copy(tw, io.LimitReader(zeros{}, l.size))
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return &readCounter{ReadCloser: pr, n: l.read}, nil
}

// zeros reads zero bytes forever.
type zeros struct{}

// Read fills p with zeros.
func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// readCounter counts the bytes read through it.
type readCounter struct {
	io.ReadCloser
	n *atomic.Int64
}

// Read reads and counts.
func (r *readCounter) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n.Add(int64(n))
	return n, err
}

// streamImage is an image of one streamLayer. Only RawManifest,
// RawConfigFile and Layers work.
type streamImage struct {
	v1.Image
	layer            streamLayer
	manifest, config []byte
}

// newStreamImage returns the image of a streamLayer of size bytes. Its
// manifest and config name the archive's real digest when digest is set
// (computed by generating the archive once), and a wrong one otherwise.
func newStreamImage(t *testing.T, size int64, read *atomic.Int64, digest bool) *streamImage {
	t.Helper()
	s := &streamImage{layer: streamLayer{size: size, read: read}}
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	n := size + 4096
	if digest {
		rc, _ := s.layer.Compressed()
		var err error
		d, n, err = v1.SHA256(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		read.Store(0)
	}
	cfg, err := json.Marshal(v1.ConfigFile{RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{d}}})
	if err != nil {
		t.Fatal(err)
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(cfg)), Digest: sha256Hash(cfg)},
		Layers:        []v1.Descriptor{{MediaType: types.OCIUncompressedLayer, Size: n, Digest: d}},
	}
	if s.manifest, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	s.config = cfg
	return s
}

// sha256Hash returns the sha256 digest of b.
func sha256Hash(b []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h
}

// RawManifest returns the manifest.
func (s *streamImage) RawManifest() ([]byte, error) { return s.manifest, nil }

// RawConfigFile returns the config.
func (s *streamImage) RawConfigFile() ([]byte, error) { return s.config, nil }

// Layers returns the streamLayer.
func (s *streamImage) Layers() ([]v1.Layer, error) { return []v1.Layer{s.layer}, nil }

func TestExtractStreamedBody(t *testing.T) {
	var read atomic.Int64
	img := newStreamImage(t, 1<<30, &read, false)
	s := newSandbox(t)
	o := opts()
	o.MaxFileSize = 1 << 20
	if err := s.extract(t, img, o); !errors.Is(err, kmodimage.ErrTooLarge) {
		t.Fatalf("Extract = %v, want ErrTooLarge", err)
	}
	if n := read.Load(); n > 64<<10 {
		t.Errorf("read %d bytes of the archive before refusing the file", n)
	}
	s.checkEmpty(t)

	// Under the limits, the body is streamed to the file.
	img = newStreamImage(t, 8<<20, &read, true)
	s = newSandbox(t)
	o.MaxFileSize = 8 << 20
	s.mustExtract(t, img, o)
	fi, err := os.Stat(s.inDst(kdir + "/big.ko"))
	if err != nil || fi.Size() != 8<<20 {
		t.Errorf("big.ko: %v, %v", fi, err)
	}
	o.MaxFileSize, o.MaxTotalSize = 0, 4<<20
	s = newSandbox(t)
	if err := s.extract(t, img, o); !errors.Is(err, kmodimage.ErrTooLarge) {
		t.Fatalf("over MaxTotalSize: Extract = %v, want ErrTooLarge", err)
	}
	s.checkEmpty(t)
}
