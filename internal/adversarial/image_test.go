package adversarial_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gokmod/modprobe/internal/registrytest"
	"github.com/gokmod/modprobe/kmodimage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

func advImageCases() []advCase {
	const cat = "image"
	const kver = "6.1.0-adv"
	const kdir = "opt/lib/modules/" + kver
	type entry = registrytest.Entry
	base := func(t *testing.T) []entry {
		return []entry{
			{Name: "opt/", Type: tar.TypeDir}, {Name: "opt/lib/", Type: tar.TypeDir}, {Name: "opt/lib/modules/", Type: tar.TypeDir},
			{Name: kdir + "/", Type: tar.TypeDir},
			{Name: kdir + "/good.ko", Data: advModuleImage(t, "good")},
		}
	}
	extract := func(more func(e *advEnv) []entry, index bool) func(ctx context.Context, t *testing.T, e *advEnv) error {
		return func(ctx context.Context, t *testing.T, e *advEnv) error {
			img := registrytest.Image(t, append(base(t), more(e)...))
			return kmodimage.Extract(ctx, img, filepath.Join(e.root, "dst"), kmodimage.ExtractOptions{KernelVersion: kver, Index: index})
		}
	}
	setup := func(t *testing.T, n int) *advEnv { e := advTree(t); e.k = nil; return e }
	unsafe := func(name string, more func(e *advEnv) []entry) advCase {
		return advCase{name: name, category: cat, setup: setup, act: extract(more, false), want: advIs(kmodimage.ErrUnsafeEntry)}
	}
	return []advCase{
		unsafe("traversal", func(e *advEnv) []entry {
			return []entry{{Name: kdir + "/../../../../../outside/evil", Data: []byte("x")}}
		}),
		unsafe("absolute name", func(e *advEnv) []entry { return []entry{{Name: e.outside + "/evil", Data: []byte("x")}} }),
		unsafe("symlink escape", func(e *advEnv) []entry {
			return []entry{{Name: kdir + "/out", Type: tar.TypeSymlink, Linkname: e.outside}, {Name: kdir + "/out/evil", Data: []byte("x")}}
		}),
		unsafe("device node", func(e *advEnv) []entry {
			return []entry{{Name: kdir + "/mem", Type: tar.TypeChar, Devmajor: 1, Devminor: 1}}
		}),
		{
			name: "header claiming 8 GiB", category: cat, setup: setup,
			act: extract(func(e *advEnv) []entry {
				return []entry{{Name: kdir + "/huge.ko", Data: []byte("\x7fELF"), Size: 8 << 30}}
			}, false),
			want: advIs(kmodimage.ErrTooLarge),
		},
		{
			// Relative links inside the kernel directory are allowed, and
			// "." makes a loop; indexing the image must not walk it
			// exponentially (two loops: 2^40 directories).
			name: "symlink loops, indexed", category: cat, setup: setup, timeout: 2 * time.Second,
			act: extract(func(e *advEnv) []entry {
				return []entry{
					{Name: kdir + "/l1", Type: tar.TypeSymlink, Linkname: "."},
					{Name: kdir + "/l2", Type: tar.TypeSymlink, Linkname: "."},
				}
			}, true),
			want:   advNilOr(kmodimage.ErrUnsafeEntry, kmodimage.ErrLayout),
			writes: []string{"dst"},
		},
	}
}

// advImageIntegrityCases are kmod images whose bytes are not what their
// digests say, and registries that loop, stall, drip or send without end.
// Each is refused with its error within its time bound, nothing is
// written, and the memory stays within the fixed bound however long the
// hostile stream would run.
func advImageIntegrityCases() []advCase {
	const cat = "image"
	const kver = "6.1.0-adv"
	const kdir = "opt/lib/modules/" + kver
	xopts := kmodimage.ExtractOptions{KernelVersion: kver}
	// The pulls' timeouts are the defaults, bar the cases that test them:
	// on a loaded machine a local answer may come slower than a short
	// stall timeout, and the pull would fail with ErrStalled instead of
	// the error the case expects.
	pull := kmodimage.PullOptions{Insecure: true}
	stall := kmodimage.PullOptions{Insecure: true, StallTimeout: 200 * time.Millisecond}
	drip := kmodimage.PullOptions{Insecure: true, Timeout: 1500 * time.Millisecond, StallTimeout: time.Second}
	// layer returns a layer of the kernel directory with good.ko, its tar
	// archive padded as GNU tar pads it.
	layer := func(t *testing.T, c registrytest.Compression) v1.Layer {
		b, err := registrytest.Tar([]registrytest.Entry{
			{Name: "opt/", Type: tar.TypeDir}, {Name: "opt/lib/", Type: tar.TypeDir}, {Name: "opt/lib/modules/", Type: tar.TypeDir},
			{Name: kdir + "/", Type: tar.TypeDir},
			{Name: kdir + "/good.ko", Data: advModuleImage(t, "good")},
		})
		if err != nil {
			t.Fatal(err)
		}
		return registrytest.Layer(t, c, registrytest.Padded(b))
	}
	noKernel := func(t *testing.T) *advEnv { e := advTree(t); e.k = nil; return e }
	dst := func(e *advEnv) string { return filepath.Join(e.root, "dst") }
	pullAndExtract := func(ctx context.Context, e *advEnv, ref string, pull kmodimage.PullOptions) error {
		img, err := kmodimage.OpenImage(ctx, ref, pull)
		if err != nil {
			return err
		}
		return kmodimage.Extract(ctx, img, dst(e), xopts)
	}
	// tampered: the layer's compressed bytes come from blob instead.
	tampered := func(name string, c registrytest.Compression, blob func(good []byte) io.Reader) advCase {
		var img v1.Image
		return advCase{
			name: name, category: cat,
			setup: func(t *testing.T, n int) *advEnv {
				l := layer(t, c)
				good := advBlob(t, l)
				img = &advTamperedImage{Image: registrytest.ImageOf(t, l), blob: func() io.Reader { return blob(good) }}
				return noKernel(t)
			},
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				return kmodimage.Extract(ctx, img, dst(e), xopts)
			},
			want: advIs(kmodimage.ErrDigestMismatch),
		}
	}
	flipLast := func(good []byte) io.Reader {
		b := bytes.Clone(good)
		b[len(b)-1] ^= 1
		return bytes.NewReader(b)
	}
	// hostile: the registry misbehaves, as f says, on what key names
	// ("layer" or "manifest"), and the image is pulled with o.
	hostile := func(name, key string, f registrytest.Fault, o kmodimage.PullOptions, want error) advCase {
		var ref string
		return advCase{
			name: name, category: cat, timeout: 5 * time.Second,
			setup: func(t *testing.T, n int) *advEnv {
				srv := registrytest.Serve(t)
				l := layer(t, registrytest.Gzip)
				ref = srv.Put(t, "adv/kmod", "v1", registrytest.ImageOf(t, l))
				k := "adv/kmod:v1"
				if key == "layer" {
					d, _ := l.Digest()
					k = d.String()
				}
				srv.SetFault(k, f)
				return noKernel(t)
			},
			act:  func(ctx context.Context, t *testing.T, e *advEnv) error { return pullAndExtract(ctx, e, ref, o) },
			want: advIs(want),
		}
	}
	return []advCase{
		tampered("layer: byte after the tar end marker swapped", registrytest.Uncompressed, flipLast),
		tampered("layer: gzip trailer swapped", registrytest.Gzip, flipLast),
		tampered("layer: blob without end", registrytest.Gzip, func(good []byte) io.Reader {
			return io.MultiReader(bytes.NewReader(good), advZeros{})
		}),
		hostile("registry: redirect loop", "layer", registrytest.Fault{RedirectLoop: true}, pull, kmodimage.ErrTooManyRedirects),
		hostile("registry: manifest without end", "manifest", registrytest.Fault{Endless: true}, pull, kmodimage.ErrTooLarge),
		hostile("registry: layer without end", "layer", registrytest.Fault{Endless: true}, pull, kmodimage.ErrDigestMismatch),
		hostile("registry: silent", "manifest", registrytest.Fault{Stall: true}, stall, kmodimage.ErrStalled),
		hostile("registry: drip", "layer", registrytest.Fault{Drip: 50 * time.Millisecond}, drip, context.DeadlineExceeded),
		func() advCase {
			var ref string
			return advCase{
				name: "oci layout: layer blob altered", category: cat,
				setup: func(t *testing.T, n int) *advEnv {
					l := layer(t, registrytest.Gzip)
					dir := filepath.Join(t.TempDir(), "layout")
					p, err := layout.Write(dir, empty.Index)
					if err == nil {
						err = p.AppendImage(registrytest.ImageOf(t, l))
					}
					if err != nil {
						t.Fatal(err)
					}
					d, _ := l.Digest()
					blob := filepath.Join(dir, "blobs", d.Algorithm, d.Hex)
					b, err := os.ReadFile(blob)
					if err != nil {
						t.Fatal(err)
					}
					b[len(b)-1] ^= 1
					if err := os.WriteFile(blob, b, 0o644); err != nil {
						t.Fatal(err)
					}
					ref = "oci:" + dir
					return noKernel(t)
				},
				act:  func(ctx context.Context, t *testing.T, e *advEnv) error { return pullAndExtract(ctx, e, ref, pull) },
				want: advIs(kmodimage.ErrDigestMismatch),
			}
		}(),
	}
}

// advBlob returns l's compressed bytes.
func advBlob(t *testing.T, l v1.Layer) []byte {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// advTamperedImage is an image whose first layer's compressed bytes are
// read from blob (the manifest still names the originals).
type advTamperedImage struct {
	v1.Image
	blob func() io.Reader
}

// Layers returns the layers, the first one tampered.
func (a *advTamperedImage) Layers() ([]v1.Layer, error) {
	ls, err := a.Image.Layers()
	if err != nil {
		return nil, err
	}
	ls = append([]v1.Layer(nil), ls...)
	ls[0] = &advTamperedLayer{Layer: ls[0], blob: a.blob}
	return ls, nil
}

// advTamperedLayer is the tampered layer of an advTamperedImage.
type advTamperedLayer struct {
	v1.Layer
	blob func() io.Reader
}

// Compressed returns the tampered bytes.
func (l *advTamperedLayer) Compressed() (io.ReadCloser, error) { return io.NopCloser(l.blob()), nil }

// advZeros reads zero bytes forever.
type advZeros struct{}

// Read fills p with zeros.
func (advZeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
