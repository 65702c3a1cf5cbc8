package kmodimage_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/registrytest"
	"github.com/gokmod/modprobe/kmodimage"
)

// writeLayout writes img as the only manifest of a new OCI layout and
// returns the layout's directory.
func writeLayout(t *testing.T, img v1.Image) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	return dir
}

// blobPath returns the path of the blob d in the layout dir.
func blobPath(dir string, d v1.Hash) string {
	return filepath.Join(dir, "blobs", d.Algorithm, d.Hex)
}

// TestLayoutTampered alters the files of an OCI layout: a layer, the
// manifest, the config, or a blob replaced by a FIFO or grown without
// end. Each is refused, without waiting, before anything is written, and
// the unaltered layout extracts.
func TestLayoutTampered(t *testing.T) {
	layer := registrytest.Layer(t, registrytest.Gzip, moduleTar(t, honestModule))
	img := registrytest.ImageOf(t, layer)
	ld := digestOf(t, layer)
	md := digestOf(t, img)
	cd, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	evil := layerBytes(t, registrytest.Layer(t, registrytest.Gzip, moduleTar(t, evilModule)))
	rewrite := func(d v1.Hash, change func([]byte) []byte) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			b, err := os.ReadFile(blobPath(dir, d))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(blobPath(dir, d), change(b), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name  string
		alter func(t *testing.T, dir string)
		ref   func(dir string) string
		want  error
	}{
		{"layer, gzip trailer", rewrite(ld, func(b []byte) []byte { return flipAt(b, -1) }), nil, kmodimage.ErrDigestMismatch},
		{"layer, module swapped", rewrite(ld, func([]byte) []byte { return evil }), nil, kmodimage.ErrDigestMismatch},
		{"layer longer than its descriptor", rewrite(ld, func(b []byte) []byte { return append(b, 0) }), nil, kmodimage.ErrDigestMismatch},
		{"manifest", rewrite(md, func(b []byte) []byte { return append(b, '\n') }), nil, kmodimage.ErrDigestMismatch},
		{"manifest, pinned", rewrite(md, func(b []byte) []byte { return flipAt(b, 20) }),
			func(dir string) string { return "oci:" + dir + "@" + md.String() }, kmodimage.ErrDigestMismatch},
		{"config", rewrite(cd, func(b []byte) []byte { return flipAt(b, -2) }), nil, kmodimage.ErrDigestMismatch},
		{"layer is a FIFO", func(t *testing.T, dir string) {
			p := blobPath(dir, ld)
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}, nil, fileio.ErrNotRegular},
		{"layer is /dev/zero", func(t *testing.T, dir string) {
			p := blobPath(dir, ld)
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/dev/zero", p); err != nil {
				t.Fatal(err)
			}
		}, nil, fileio.ErrNotRegular},
		{"index.json over the bound", func(t *testing.T, dir string) {
			b, err := os.ReadFile(filepath.Join(dir, "index.json"))
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, bytes.Repeat([]byte(" "), kmodimage.MaxManifestSize)...)
			if err := os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, nil, fileio.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeLayout(t, img)
			tc.alter(t, dir)
			ref := "oci:" + dir
			if tc.ref != nil {
				ref = tc.ref(dir)
			}
			s := newSandbox(t)
			err := timed(t, func() error { return pullExtract(t.Context(), ref, s.dst, kmodimage.PullOptions{}) })
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), ref) {
				t.Fatalf("pull = %v, want %v naming %s", err, tc.want, ref)
			}
			t.Log(err)
			s.checkEmpty(t)
		})
	}
	s := newSandbox(t)
	if err := pullExtract(t.Context(), "oci:"+writeLayout(t, img), s.dst, kmodimage.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := s.readFile(t, kdir+"/extra/good.ko"); got != honestModule {
		t.Errorf("good.ko = %q", got)
	}
}

// TestTarballTampered swaps a layer of a `docker save` tarball for
// another valid one: its tar archive no longer has the config's diff_id,
// and the image is refused. A tarball that is a FIFO is refused without
// waiting.
func TestTarballTampered(t *testing.T) {
	layer := registrytest.Layer(t, registrytest.Gzip, moduleTar(t, honestModule))
	img := registrytest.ImageOf(t, layer)
	path := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(path, name.MustParseReference("kmod:test"), img); err != nil {
		t.Fatal(err)
	}
	evil := layerBytes(t, registrytest.Layer(t, registrytest.Gzip, moduleTar(t, evilModule)))
	swapped := filepath.Join(t.TempDir(), "swapped.tar")
	swapMember(t, path, swapped, digestOf(t, layer).Hex, evil)

	s := newSandbox(t)
	ref := "tarball:" + swapped
	err := timed(t, func() error { return pullExtract(t.Context(), ref, s.dst, kmodimage.PullOptions{}) })
	if !errors.Is(err, kmodimage.ErrDigestMismatch) || !strings.Contains(err.Error(), ref) || !strings.Contains(err.Error(), "diff_id") {
		t.Fatalf("pull = %v, want ErrDigestMismatch naming %s and the diff_id", err, ref)
	}
	t.Log(err)
	s.checkEmpty(t)

	fifo := filepath.Join(t.TempDir(), "fifo.tar")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	err = timed(t, func() error { return pullExtract(t.Context(), "tarball:"+fifo, s.dst, kmodimage.PullOptions{}) })
	if !errors.Is(err, fileio.ErrNotRegular) {
		t.Fatalf("FIFO tarball: %v, want fileio.ErrNotRegular", err)
	}

	// go-containerregistry reads manifest.json and the config whole: a
	// large one is refused by its header (the config through a link).
	big := string(bytes.Repeat([]byte(" "), kmodimage.MaxManifestSize))
	for name, members := range map[string][]tarMember{
		"manifest.json": {{name: "manifest.json", data: big + "[]"}},
		"config": {
			{name: "manifest.json", data: `[{"Config":"cfg.json","Layers":[]}]`},
			{name: "cfg.json", link: "big.json"},
			{name: "big.json", data: big + "{}"},
		},
	} {
		p := filepath.Join(t.TempDir(), "big.tar")
		writeTar(t, p, members)
		err := timed(t, func() error { return pullExtract(t.Context(), "tarball:"+p, s.dst, kmodimage.PullOptions{}) })
		if !errors.Is(err, kmodimage.ErrTooLarge) || !strings.Contains(err.Error(), "in the tarball") {
			t.Errorf("tarball with a large %s: %v, want ErrTooLarge before it is read", name, err)
		}
	}

	s = newSandbox(t)
	if err := pullExtract(t.Context(), "tarball:"+path, s.dst, kmodimage.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := s.readFile(t, kdir+"/extra/good.ko"); got != honestModule {
		t.Errorf("good.ko = %q", got)
	}
}

// swapMember copies the tar archive src to dst with the body of every
// member whose name holds hex replaced by body.
func swapMember(t *testing.T, src, dst, hex string, body []byte) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out bytes.Buffer
	tr, tw := tar.NewReader(in), tar.NewWriter(&out)
	swaps := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(h.Name, hex) {
			b, h.Size = body, int64(len(body))
			swaps++
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if swaps != 1 {
		t.Fatalf("%d members named after %s", swaps, hex)
	}
	if err := os.WriteFile(dst, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tarMember is a member of writeTar's archive: a file, or a symlink when
// link is set.
type tarMember struct {
	name, data, link string
}

// writeTar writes a tar archive of members at p.
func writeTar(t *testing.T, p string, members []tarMember) {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, m := range members {
		h := &tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg}
		if m.link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, m.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(m.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeTarball writes img as a `docker save` tarball and returns its path.
func writeTarball(t *testing.T, img v1.Image) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(p, name.MustParseReference("kmod:test"), img); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTarballLayerFiles reads the layers of `docker save` tarballs as
// their files are, plain tar, gzip or zstd, and checks them against the
// config's diff_ids: an honest tarball extracts; one whose layer file
// holds another module, or a changed byte after the tar end marker, is
// refused with ErrDigestMismatch naming the diff_id and the layer's file
// in the tarball. An image whose first layer is a plain tar archive and
// whose second is gzip (go-containerregistry then takes every layer for
// a plain one) extracts both.
func TestTarballLayerFiles(t *testing.T) {
	for _, c := range []struct {
		name string
		c    registrytest.Compression
	}{{"plain", registrytest.Uncompressed}, {"gzip", registrytest.Gzip}, {"zstd", registrytest.Zstd}} {
		t.Run(c.name, func(t *testing.T) {
			layer := registrytest.Layer(t, c.c, moduleTar(t, honestModule))
			path := writeTarball(t, registrytest.ImageOf(t, layer))
			s := newSandbox(t)
			if err := pullExtract(t.Context(), "tarball:"+path, s.dst, kmodimage.PullOptions{}); err != nil {
				t.Fatal(err)
			}
			if got := s.readFile(t, kdir+"/extra/good.ko"); got != honestModule {
				t.Errorf("good.ko = %q", got)
			}
			good := layerBytes(t, layer)
			swaps := map[string][]byte{
				"module swapped": layerBytes(t, registrytest.Layer(t, c.c, moduleTar(t, evilModule))),
			}
			if c.c == registrytest.Uncompressed {
				swaps["byte after the tar end marker"] = flipAt(good, -1)
			}
			for what, body := range swaps {
				swapped := filepath.Join(t.TempDir(), "swapped.tar")
				swapMember(t, path, swapped, digestOf(t, layer).Hex, body)
				s := newSandbox(t)
				err := pullExtract(t.Context(), "tarball:"+swapped, s.dst, kmodimage.PullOptions{})
				if !errors.Is(err, kmodimage.ErrDigestMismatch) || !strings.Contains(err.Error(), "diff_id") || !strings.Contains(err.Error(), "("+digestOf(t, layer).Hex) || !strings.Contains(err.Error(), " in the tarball)") {
					t.Errorf("%s: %v, want ErrDigestMismatch naming the diff_id and the layer's file", what, err)
				}
				s.checkEmpty(t)
			}
		})
	}
	t.Run("plain then gzip", func(t *testing.T) {
		second, err := registrytest.Tar([]registrytest.Entry{
			dir("opt/"), dir("opt/lib/"), dir("opt/lib/modules/"), dir(kdir + "/"), dir(kdir + "/extra/"),
			file(kdir+"/extra/second.ko", "second module"),
		})
		if err != nil {
			t.Fatal(err)
		}
		img := registrytest.ImageOf(t,
			registrytest.Layer(t, registrytest.Uncompressed, moduleTar(t, honestModule)),
			registrytest.Layer(t, registrytest.Gzip, registrytest.Padded(second)))
		s := newSandbox(t)
		if err := pullExtract(t.Context(), "tarball:"+writeTarball(t, img), s.dst, kmodimage.PullOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := s.readFile(t, kdir+"/extra/good.ko") + ", " + s.readFile(t, kdir+"/extra/second.ko"); got != honestModule+", second module" {
			t.Errorf("modules %q", got)
		}
	})
}
