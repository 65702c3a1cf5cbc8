package kmodimage_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/gokmod/modprobe/internal/registrytest"
	"github.com/gokmod/modprobe/kmodimage"
)

// The image layout the extraction targets use.
const (
	fuzzKernel   = "6.1.0-fuzz"
	fuzzKdir     = "opt/lib/modules/" + fuzzKernel
	fuzzFirmware = "firmware"
	fuzzHost     = "/host/lib/modules"
)

// fuzzExtractOptions are small limits, so that a hostile input fails fast.
var fuzzExtractOptions = kmodimage.ExtractOptions{
	KernelVersion: fuzzKernel,
	FirmwarePath:  "/" + fuzzFirmware,
	HostModules:   fuzzHost,
	MaxFileSize:   1 << 20,
	MaxTotalSize:  4 << 20,
	MaxEntries:    1000,
}

// fuzzImage returns an image with one layer per tar stream.
func fuzzImage(t testing.TB, tars ...[]byte) v1.Image {
	t.Helper()
	img := v1.Image(empty.Image)
	for _, b := range tars {
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// fuzzTar returns the tar stream of entries, failing t if there is none.
func fuzzTar(t testing.TB, entries ...registrytest.Entry) []byte {
	t.Helper()
	b, err := registrytest.Tar(entries)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fuzzTree is a plausible layer: the directories down to the kernel
// directory, modules, a module symlink, a hard link, a link to the host's
// module tree and firmware.
func fuzzTree() []registrytest.Entry {
	return []registrytest.Entry{
		{Name: "opt/", Type: tar.TypeDir}, {Name: "opt/lib/", Type: tar.TypeDir},
		{Name: "opt/lib/modules/", Type: tar.TypeDir}, {Name: fuzzKdir + "/", Type: tar.TypeDir},
		{Name: fuzzKdir + "/extra/a.ko", Data: []byte("module a")},
		{Name: fuzzKdir + "/extra/tool", Data: []byte("#!/bin/sh\n"), Mode: 0o755},
		{Name: fuzzKdir + "/modules.dep", Data: []byte("extra/a.ko:\n")},
		{Name: fuzzKdir + "/extra/b.ko", Type: tar.TypeSymlink, Linkname: "a.ko"},
		{Name: fuzzKdir + "/extra/c.ko", Type: tar.TypeLink, Linkname: fuzzKdir + "/extra/a.ko"},
		{Name: fuzzKdir + "/build", Type: tar.TypeSymlink, Linkname: fuzzHost + "/" + fuzzKernel + "/build"},
		{Name: "./firmware/fw.bin", Data: []byte("firmware")},
		{Name: "etc/motd", Data: []byte("not extracted")},
	}
}

// fuzzExtractSeeds are hostile layers for both extraction targets.
func fuzzExtractSeeds() [][]registrytest.Entry {
	k := fuzzKdir + "/"
	return [][]registrytest.Entry{
		{{Name: "../../evil/x", Data: []byte("x")}},
		{{Name: "/etc/passwd", Data: []byte("root::0:0:")}},
		{{Name: k + "../../../../evil/x", Data: []byte("x")}},
		{{Name: k + "esc", Type: tar.TypeSymlink, Linkname: "../../../../../evil"}, {Name: k + "esc/x", Data: []byte("x")}},
		{{Name: k + "b", Type: tar.TypeSymlink, Linkname: "."}, {Name: k + "a", Type: tar.TypeSymlink, Linkname: "b/../../../x"}},
		{{Name: k + "h", Type: tar.TypeSymlink, Linkname: fuzzHost + "/../../../etc"}},
		{{Name: k + "host", Type: tar.TypeSymlink, Linkname: fuzzHost}, {Name: k + "host/x.ko", Data: []byte("x")}},
		{{Name: "etc/shadow", Data: []byte("s")}, {Name: k + "h", Type: tar.TypeLink, Linkname: "etc/shadow"}},
		{{Name: k + "h", Type: tar.TypeLink, Linkname: "../evil/keep"}},
		{{Name: k + ".wh...", Data: nil}, {Name: k + ".wh..wh..opq"}},
		{{Name: k + "mem", Type: tar.TypeChar, Devmajor: 1, Devminor: 1}, {Name: k + "fifo", Type: tar.TypeFifo}},
		{{Name: fuzzKdir, Data: []byte("a file")}},
		{{Name: k + "big.ko", Data: []byte("start"), Size: 2 << 20}},
		{{Name: "opt/lib/modules/5.10.0/x.ko", Data: []byte("other kernel")}},
	}
}

// nlinks returns the link count of a file, or 0 when the system does not
// say.
func nlinks(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 0
}

// inode returns the device and inode of a file.
func inode(fi fs.FileInfo) [2]uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return [2]uint64{uint64(st.Dev), st.Ino}
	}
	return [2]uint64{}
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// resolveIn resolves the path elems from the real directory cur, the way
// the kernel would, following symlinks on disk. It fails t if the
// resolution leaves root other than through an absolute symlink into
// fuzzHost. It stops quietly at a missing or non-directory element that
// is not the last, at a host symlink, and after 40 symlinks (ELOOP).
func resolveIn(t *testing.T, root, cur string, elems []string, hops *int) (string, bool) {
	for i, el := range elems {
		switch el {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			if !within(cur, root) {
				t.Fatalf("resolution climbs out of %s to %s", root, cur)
			}
			continue
		}
		next := cur + "/" + el
		fi, err := os.Lstat(next)
		if err != nil {
			return next, false
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if !fi.IsDir() && i < len(elems)-1 {
				return next, false
			}
			cur = next
			continue
		}
		if *hops++; *hops > 40 {
			return next, false
		}
		target, err := os.Readlink(next)
		if err != nil {
			t.Fatal(err)
		}
		if path.IsAbs(target) {
			if !within(path.Clean(target), fuzzHost) {
				t.Fatalf("symlink %s points to %q, outside %s", next, target, fuzzHost)
			}
			return target, false
		}
		var ok bool
		if cur, ok = resolveIn(t, root, cur, strings.Split(target, "/"), hops); !ok {
			return cur, false
		}
	}
	return cur, true
}

// checkExtracted checks what Extract left in parent, which held only the
// directory evil (with a file keep) before: with an error, no dst or an
// empty one; on success, only the kernel directory and the firmware
// directory (and their parents) in dst, files of the allowed modes and
// sizes, no hard link to a file outside dst, and no symlink resolving out
// of dst except into the host's module tree. It returns the regular files
// below dst by image path.
func checkExtracted(t *testing.T, parent, dst string, err error) map[string][]byte {
	t.Helper()
	des, rerr := os.ReadDir(parent)
	if rerr != nil {
		t.Fatal(rerr)
	}
	for _, de := range des {
		if de.Name() != "dst" && de.Name() != "evil" {
			t.Fatalf("Extract (%v) left %s in the parent directory", err, de.Name())
		}
	}
	if evil, rerr := os.ReadDir(filepath.Join(parent, "evil")); rerr != nil || len(evil) != 1 || evil[0].Name() != "keep" {
		t.Fatalf("Extract (%v) changed the sibling directory: %v, %v", err, evil, rerr)
	}
	if keep, rerr := os.ReadFile(filepath.Join(parent, "evil", "keep")); rerr != nil || string(keep) != "keep" {
		t.Fatalf("Extract (%v) changed evil/keep: %q, %v", err, keep, rerr)
	}
	if err != nil {
		if err.Error() == "" {
			t.Fatal("empty error")
		}
		if left, rerr := os.ReadDir(dst); rerr == nil && len(left) > 0 || rerr != nil && !os.IsNotExist(rerr) {
			t.Fatalf("Extract failed (%v) but left %v (%v) in dst", err, left, rerr)
		}
		return nil
	}

	files := map[string][]byte{}
	names := map[[2]uint64]uint64{} // names in dst of each multiply-linked file
	links := map[[2]uint64]uint64{}
	var total int64
	werr := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dst {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, dst+"/"))
		if !within(rel, fuzzKdir) && !within(rel, fuzzFirmware) && rel != "opt" && rel != "opt/lib" && rel != "opt/lib/modules" {
			t.Fatalf("Extract wrote %s, outside the parts", rel)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			if fi.Mode().Perm() != 0o755 {
				t.Fatalf("directory %s has mode %v", rel, fi.Mode())
			}
			if rel == fuzzKdir || rel == fuzzFirmware {
				return nil
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			var hops int
			resolveIn(t, dst, filepath.Dir(p), []string{filepath.Base(p)}, &hops)
		case fi.Mode().IsRegular():
			if perm := fi.Mode().Perm(); perm != 0o644 && perm != 0o755 {
				t.Fatalf("file %s has mode %v", rel, fi.Mode())
			}
			if fi.Size() > fuzzExtractOptions.MaxFileSize {
				t.Fatalf("file %s has %d bytes, over the limit", rel, fi.Size())
			}
			if n := nlinks(fi); n > 1 {
				id := inode(fi)
				if names[id]++; names[id] == 1 {
					total += fi.Size()
				}
				links[id] = n
			} else {
				total += fi.Size()
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files[rel] = b
		default:
			t.Fatalf("Extract wrote %s of mode %v", rel, fi.Mode())
		}
		return nil
	})
	if werr != nil {
		t.Fatal(werr)
	}
	for id, n := range links {
		if names[id] != n {
			t.Fatalf("a file of dst has %d links, %d of them in dst", n, names[id])
		}
	}
	if total > fuzzExtractOptions.MaxTotalSize {
		t.Fatalf("%d bytes extracted, over the limit", total)
	}
	for _, p := range []string{fuzzKdir, fuzzFirmware} {
		if fi, err := os.Lstat(filepath.Join(dst, p)); err != nil || !fi.IsDir() {
			t.Fatalf("Extract succeeded without the directory %s: %v", p, err)
		}
	}
	return files
}

// extractInSandbox extracts img into a new directory dst of a temporary
// directory that also holds evil/keep, and checks the result.
func extractInSandbox(t *testing.T, img v1.Image) map[string][]byte {
	t.Helper()
	parent := t.TempDir()
	if err := os.Mkdir(filepath.Join(parent, "evil"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "evil", "keep"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(parent, "dst")
	err := kmodimage.Extract(context.Background(), img, dst, fuzzExtractOptions)
	return checkExtracted(t, parent, dst, err)
}

// FuzzExtract extracts an image whose only layer is the input taken as a
// tar stream (gzip-compressed if it starts like one) and checks what is
// left on disk (see checkExtracted).
func FuzzExtract(f *testing.F) {
	f.Add(fuzzTar(f, fuzzTree()...))
	for _, s := range fuzzExtractSeeds() {
		f.Add(fuzzTar(f, append(fuzzTree(), s...)...))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		extractInSandbox(t, fuzzImage(t, data))
	})
}

// fuzzSpecName expands the shorthands of a spec name: "K/" is the
// kernel directory, "W/" the firmware directory.
func fuzzSpecName(n string) string {
	if rest, ok := strings.CutPrefix(n, "K/"); ok {
		return fuzzKdir + "/" + rest
	}
	if rest, ok := strings.CutPrefix(n, "W/"); ok {
		return fuzzFirmware + "/" + rest
	}
	return n
}

// parseLayerSpec reads FuzzExtractLayers' input: layers separated by
// lines "--", each line an entry "TNAME" or "TNAME>ARG" where T is f (a
// file with the data ARG), x (an executable file), d (a directory), s
// (a symlink to ARG), h (a hard link to ARG), c, b or p (a character or
// block device, a FIFO), F (a file of ARG zero bytes), Z (a file whose
// header says ARG bytes but that holds one: the layer ends there), or any
// other byte, taken as the tar type flag. ok is false when the entries
// make no tar stream.
func parseLayerSpec(spec string) (tars [][]byte, layers [][]registrytest.Entry, ok bool) {
	layers = [][]registrytest.Entry{nil}
	for _, line := range strings.Split(spec, "\n") {
		if line == "--" {
			if len(layers) == 4 {
				break
			}
			layers = append(layers, nil)
			continue
		}
		if line == "" {
			continue
		}
		name, arg, _ := strings.Cut(line[1:], ">")
		e := registrytest.Entry{Name: fuzzSpecName(name)}
		switch line[0] {
		case 'f':
			e.Data = []byte(arg)
		case 'x':
			e.Data, e.Mode = []byte(arg), 0o755
		case 'd':
			e.Type = tar.TypeDir
		case 's':
			e.Type, e.Linkname = tar.TypeSymlink, fuzzSpecName(arg)
		case 'h':
			e.Type, e.Linkname = tar.TypeLink, fuzzSpecName(arg)
		case 'c':
			e.Type = tar.TypeChar
		case 'b':
			e.Type = tar.TypeBlock
		case 'p':
			e.Type = tar.TypeFifo
		case 'F', 'Z':
			n, err := strconv.Atoi(arg)
			if err != nil || n < 0 || n > 3<<19 {
				return nil, nil, false
			}
			if line[0] == 'F' {
				e.Data = make([]byte, n)
			} else {
				e.Data, e.Size = []byte("x"), int64(n)
			}
		default:
			e.Type, e.Data = line[0], []byte(arg)
		}
		last := len(layers) - 1
		layers[last] = append(layers[last], e)
	}
	for _, l := range layers {
		b, err := registrytest.Tar(l)
		if err != nil {
			return nil, nil, false
		}
		tars = append(tars, b)
	}
	return tars, layers, true
}

// FuzzExtractLayers extracts an image of up to four layers described by a
// text spec (see parseLayerSpec), which lets the fuzzer combine whiteouts,
// opaque directories, links and replacements across layers, and checks
// what is left on disk (see checkExtracted), and that an extracted file
// whose last entry in the layers is a regular file holds that entry's
// data.
func FuzzExtractLayers(f *testing.F) {
	base := "d" + fuzzKdir + "/\nfK/extra/a.ko>module a\nxK/tool>#!/bin/sh\nsK/extra/b.ko>a.ko\nhK/c.ko>K/extra/a.ko\n" +
		"sK/build>" + fuzzHost + "/" + fuzzKernel + "/build\nfW/fw.bin>fw\nfetc/motd>no\n"
	for _, s := range []string{
		base,
		base + "--\nfK/extra/.wh.a.ko\nfK/new.ko>new\n",
		base + "--\nfK/extra/.wh..wh..opq\nfK/extra/n.ko>n\n--\nfK/.wh.extra\n",
		base + "--\ndK/extra/a.ko/\nfK/extra/a.ko/x>x\n--\nfK/extra>file now\n",
		base + "--\nfK/.wh..wh..opq\n--\nsK/extra>../../..\nfK/extra/x>x\n",
		base + "--\nsK/sub>extra\n--\nfK/sub/x.ko>through a lower symlink\n",
		base + "--\nfopt/lib/modules/.wh." + fuzzKernel + "\n--\nfK/again.ko>again\n",
		base + "--\nhK/h>etc/motd\n",
		base + "--\nsK/b>.\nsK/a>b/../../../x\n",
		base + "--\nFK/big.ko>1048577\n",
		base + "--\nZK/cut.ko>100\n",
		base + "--\ncK/mem\n",
		"fK/../../../../evil/x>x\n",
		"fopt/lib/modules/5.10/x.ko>other\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		tars, layers, ok := parseLayerSpec(spec)
		if !ok {
			return
		}
		files := extractInSandbox(t, fuzzImage(t, tars...))
		// The last entry naming each path, by its clean name.
		last := map[string]registrytest.Entry{}
		for _, l := range layers {
			for _, e := range l {
				n := e.Name
				for strings.HasPrefix(n, "./") {
					n = n[2:]
				}
				last[path.Clean(n)] = e
			}
		}
		for name, data := range files {
			e, ok := last[name]
			if ok && (e.Type == 0 || e.Type == tar.TypeReg) && !bytes.Equal(data, e.Data) {
				t.Fatalf("%s holds %q, its last entry %q", name, data, e.Data)
			}
		}
	})
}
