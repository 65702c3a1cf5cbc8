package kmodimage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gokmod/modprobe/internal/registrytest"
	"github.com/gokmod/modprobe/kmodimage"
)

// honestModule is the content of good.ko in the honest images of these
// tests; the tampered ones carry evilModule, of the same length.
const (
	honestModule = "good module"
	evilModule   = "evil module"
)

// pullBound is how long a refused pull may take before it counts as a
// hang.
const pullBound = 5 * time.Second

// pullOpts are the pull options of these tests but the stall and drip
// cases: timeouts generous enough for a loaded machine (a local answer
// slower than a short stall timeout would fail with ErrStalled instead of
// the error a test expects), and still twice pullBound, so that a pull
// that hangs is caught by timed.
func pullOpts() kmodimage.PullOptions {
	return kmodimage.PullOptions{Insecure: true, Timeout: 4 * pullBound, StallTimeout: 2 * pullBound}
}

// stallOpts are the pull options of the cases where the registry stalls:
// a stall timeout of 300 ms.
func stallOpts() kmodimage.PullOptions {
	o := pullOpts()
	o.StallTimeout = 300 * time.Millisecond
	return o
}

// moduleTar returns the padded tar archive of baseLayer with good.ko
// holding module.
func moduleTar(t *testing.T, module string) []byte {
	t.Helper()
	entries := baseLayer()
	for i := range entries {
		if entries[i].Name == kdir+"/extra/good.ko" {
			entries[i].Data = []byte(module)
		}
	}
	b, err := registrytest.Tar(entries)
	if err != nil {
		t.Fatal(err)
	}
	return registrytest.Padded(b)
}

// layerBytes returns the compressed bytes of l.
func layerBytes(t *testing.T, l v1.Layer) []byte {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// digestOf returns d's digest or fails t.
func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// flipAt returns a copy of b with the byte at i (from the end when
// negative) changed.
func flipAt(b []byte, i int) []byte {
	b = bytes.Clone(b)
	if i < 0 {
		i += len(b)
	}
	b[i] ^= 0x01
	return b
}

// timed runs f and fails t if it takes longer than pullBound.
func timed(t *testing.T, f func() error) error {
	t.Helper()
	start := time.Now()
	err := f()
	if d := time.Since(start); d > pullBound {
		t.Errorf("took %v, more than %v", d, pullBound)
	}
	return err
}

// pullExtract opens ref and extracts it into dst.
func pullExtract(ctx context.Context, ref, dst string, o kmodimage.PullOptions) error {
	img, err := kmodimage.OpenImage(ctx, ref, o)
	if err != nil {
		return err
	}
	return kmodimage.Extract(ctx, img, dst, opts())
}

// checkHonestPull pulls ref into a new sandbox and checks that it holds
// the honest module.
func checkHonestPull(t *testing.T, ref string) {
	t.Helper()
	s := newSandbox(t)
	if err := pullExtract(t.Context(), ref, s.dst, pullOpts()); err != nil {
		t.Fatalf("honest pull of %s: %v", ref, err)
	}
	if got := s.readFile(t, kdir+"/extra/good.ko"); got != honestModule {
		t.Fatalf("honest pull of %s: good.ko = %q", ref, got)
	}
}

// TestPullTamperedLayer serves layers whose bytes are not those their
// digest names (plain tar, gzip and zstd; with and without
// Content-Length; bytes after the tar end marker or in the gzip trailer,
// where the tar reader never looks): each pull of the image, pinned by
// digest, fails naming the reference and the digests, leaves the
// destination as it was, and the next pull of the same digest from the
// honest registry gets the honest module.
func TestPullTamperedLayer(t *testing.T) {
	srv := registrytest.Serve(t)
	type tamper struct {
		name string
		c    registrytest.Compression
		body func(good []byte) []byte
		got  bool // the error gives the digest got
	}
	evil := func(c registrytest.Compression) func([]byte) []byte {
		return func([]byte) []byte { return layerBytes(t, registrytest.Layer(t, c, moduleTar(t, evilModule))) }
	}
	cases := []tamper{
		{"plain, byte after the tar end marker", registrytest.Uncompressed, func(b []byte) []byte { return flipAt(b, -1) }, true},
		{"plain, module swapped", registrytest.Uncompressed, evil(registrytest.Uncompressed), true},
		{"gzip, trailer checksum", registrytest.Gzip, func(b []byte) []byte { return flipAt(b, -1) }, true},
		{"gzip, header byte gzip ignores", registrytest.Gzip, func(b []byte) []byte { return flipAt(b, 9) }, true},
		{"gzip, module swapped", registrytest.Gzip, evil(registrytest.Gzip), false},
		{"zstd, last byte", registrytest.Zstd, func(b []byte) []byte { return flipAt(b, -1) }, true},
		{"zstd, module swapped", registrytest.Zstd, evil(registrytest.Zstd), false},
		{"blob longer than its descriptor", registrytest.Gzip, func(b []byte) []byte { return append(bytes.Clone(b), "more"...) }, false},
		{"blob shorter than its descriptor", registrytest.Gzip, func(b []byte) []byte { return b[:len(b)-1] }, false},
	}
	for _, tc := range cases {
		for _, noLength := range []bool{false, true} {
			name := tc.name + ", Content-Length"
			if noLength {
				name = tc.name + ", chunked"
			}
			t.Run(name, func(t *testing.T) {
				layer := registrytest.Layer(t, tc.c, moduleTar(t, honestModule))
				img := registrytest.ImageOf(t, layer)
				srv.Put(t, "kmod/tampered", "v1", img)
				ref := srv.Host + "/kmod/tampered@" + digestOf(t, img).String()
				ld := digestOf(t, layer)
				srv.SetFault(ld.String(), registrytest.Fault{Body: tc.body(layerBytes(t, layer)), NoLength: noLength})
				defer srv.ClearFaults()

				s := newSandbox(t)
				s.mustExtract(t, img, opts()) // what a failed pull must leave alone
				before := s.dstFiles(t)
				err := timed(t, func() error { return pullExtract(t.Context(), ref, s.dst, pullOpts()) })
				if !errors.Is(err, kmodimage.ErrDigestMismatch) {
					t.Fatalf("pull = %v, want ErrDigestMismatch", err)
				}
				t.Log(err)
				msg := err.Error()
				if !strings.Contains(msg, ref) || !strings.Contains(msg, ld.String()) || (tc.got && !strings.Contains(msg, "got sha256:")) {
					t.Errorf("error %q does not name the reference, the layer's digest and (for a whole blob) the digest got", msg)
				}
				if after := s.dstFiles(t); !slices.Equal(after, before) || s.readFile(t, kdir+"/extra/good.ko") != honestModule {
					t.Errorf("a refused pull changed the destination: %q, was %q", after, before)
				}
				srv.ClearFaults()
				checkHonestPull(t, ref)
			})
		}
	}
}

// TestPullTamperedManifest serves, for a reference pinned by digest, a
// manifest that is another image's; for an index's entry, another
// platform's manifest; and a config that is not the manifest's. Each is
// refused with ErrDigestMismatch naming the reference.
func TestPullTamperedManifest(t *testing.T) {
	srv := registrytest.Serve(t)
	good := registrytest.ImageOf(t, registrytest.Layer(t, registrytest.Gzip, moduleTar(t, honestModule)))
	evil := registrytest.ImageOf(t, registrytest.Layer(t, registrytest.Gzip, moduleTar(t, evilModule)))
	srv.Put(t, "kmod/evil", "v1", evil)
	srv.Put(t, "kmod/good", "v1", good)
	pinned := srv.Host + "/kmod/good@" + digestOf(t, good).String()
	evilManifest, _ := evil.RawManifest()
	evilConfig, _ := evil.RawConfigFile()

	check := func(t *testing.T, ref string, o kmodimage.PullOptions) {
		t.Helper()
		s := newSandbox(t)
		err := timed(t, func() error { return pullExtract(t.Context(), ref, s.dst, o) })
		if !errors.Is(err, kmodimage.ErrDigestMismatch) || !strings.Contains(err.Error(), ref) {
			t.Fatalf("pull = %v, want ErrDigestMismatch naming %s", err, ref)
		}
		s.checkEmpty(t)
	}
	t.Run("manifest of a pinned reference", func(t *testing.T) {
		srv.SetFault(digestOf(t, good).String(), registrytest.Fault{Body: evilManifest})
		defer srv.ClearFaults()
		check(t, pinned, pullOpts())
	})
	t.Run("config", func(t *testing.T) {
		cfg, _ := good.ConfigName()
		srv.SetFault(cfg.String(), registrytest.Fault{Body: evilConfig, NoLength: true})
		defer srv.ClearFaults()
		check(t, pinned, pullOpts())
		check(t, srv.Host+"/kmod/good:v1", pullOpts())
	})
	t.Run("index entry", func(t *testing.T) {
		idx, imgs := imgIndex(t)
		ref := srv.PutIndex(t, "kmod/multi", "v1", idx)
		srv.SetFault(digestOf(t, imgs["amd64"]).String(), registrytest.Fault{Body: mustRaw(t, imgs["arm64"])})
		defer srv.ClearFaults()
		o := pullOpts()
		o.Platform = &v1.Platform{OS: "linux", Architecture: "amd64"}
		check(t, ref, o)
	})
	srv.ClearFaults()
	checkHonestPull(t, pinned)
}

// imgIndex returns an OCI index of an amd64 and an arm64 image, whose
// good.ko are honest and evil.
func imgIndex(t *testing.T) (v1.ImageIndex, map[string]v1.Image) {
	t.Helper()
	imgs := map[string]v1.Image{
		"amd64": registrytest.ImageOf(t, registrytest.Layer(t, registrytest.Gzip, moduleTar(t, honestModule))),
		"arm64": registrytest.ImageOf(t, registrytest.Layer(t, registrytest.Gzip, moduleTar(t, evilModule))),
	}
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		adds = append(adds, mutate.IndexAddendum{
			Add:        imgs[arch],
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	return mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), types.OCIImageIndex), imgs
}

// mustRaw returns img's manifest.
func mustRaw(t *testing.T, img v1.Image) []byte {
	t.Helper()
	b, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPullHostileRegistry has the registry loop, stall, drip and send
// without end: each pull fails with a clear error within a few seconds
// (the stall and drip cases' timeouts are small), leaves nothing behind,
// and the next pull from the honest registry works.
func TestPullHostileRegistry(t *testing.T) {
	srv := registrytest.Serve(t)
	img := registrytest.ImageOf(t, registrytest.Layer(t, registrytest.Gzip, moduleTar(t, honestModule)))
	ref := srv.Put(t, "kmod/hostile", "v1", img)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	layer := digestOf(t, layers[0]).String()
	const tag = "kmod/hostile:v1"
	big := bytes.Repeat([]byte(" "), kmodimage.MaxManifestSize+1)
	drip := pullOpts()
	drip.Timeout, drip.StallTimeout = 1500*time.Millisecond, time.Second
	for _, tc := range []struct {
		name string
		key  string // what the fault applies to
		f    registrytest.Fault
		o    kmodimage.PullOptions
		want error
		says string // what the error must say besides
	}{
		{"redirect loop on a layer", layer, registrytest.Fault{RedirectLoop: true}, pullOpts(), kmodimage.ErrTooManyRedirects, "stopped after 10"},
		{"redirect loop on the manifest", tag, registrytest.Fault{RedirectLoop: true}, pullOpts(), kmodimage.ErrTooManyRedirects, "stopped after 10"},
		{"layer body without end", layer, registrytest.Fault{Endless: true}, pullOpts(), kmodimage.ErrDigestMismatch, "longer than the"},
		{"manifest body without end", tag, registrytest.Fault{Endless: true}, pullOpts(), kmodimage.ErrTooLarge, "more than 4194304 bytes"},
		{"manifest over the bound, Content-Length", tag, registrytest.Fault{Body: big}, pullOpts(), kmodimage.ErrTooLarge, "Content-Length 4194305"},
		{"manifest over the bound, chunked", tag, registrytest.Fault{Body: big, NoLength: true}, pullOpts(), kmodimage.ErrTooLarge, "more than 4194304 bytes"},
		{"silent registry", tag, registrytest.Fault{Stall: true}, stallOpts(), kmodimage.ErrStalled, "nothing received for 300ms"},
		{"layer body stalls", layer, registrytest.Fault{Drip: 2 * time.Second}, stallOpts(), kmodimage.ErrStalled, "nothing received for 300ms"},
		{"layer drips within the stall timeout", layer, registrytest.Fault{Drip: 50 * time.Millisecond}, drip, context.DeadlineExceeded, "timeout of 1.5s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.SetFault(tc.key, tc.f)
			defer srv.ClearFaults()
			s := newSandbox(t)
			n0 := srv.Requests()
			err := timed(t, func() error { return pullExtract(t.Context(), ref, s.dst, tc.o) })
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), ref) {
				t.Fatalf("pull = %v, want %v naming %s", err, tc.want, ref)
			}
			t.Log(err)
			n := srv.Requests() - n0
			t.Logf("%d requests", n)
			if n > 20 {
				t.Errorf("%d requests for one pull", n)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("the error does not say %q", tc.says)
			}
			s.checkEmpty(t)
			srv.ClearFaults()
			checkHonestPull(t, ref)
		})
	}
}

// TestPullCancel cancels a pull whose registry has stopped answering,
// with long timeouts: the context alone ends it.
func TestPullCancel(t *testing.T) {
	srv := registrytest.Serve(t)
	img := registrytest.ImageOf(t, registrytest.Layer(t, registrytest.Gzip, moduleTar(t, honestModule)))
	ref := srv.Put(t, "kmod/cancel", "v1", img)
	layers, _ := img.Layers()
	srv.SetFault(digestOf(t, layers[0]).String(), registrytest.Fault{Stall: true})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel)
	s := newSandbox(t)
	err := timed(t, func() error { return pullExtract(ctx, ref, s.dst, kmodimage.PullOptions{Insecure: true}) })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("pull = %v, want context.Canceled", err)
	}
	s.checkEmpty(t)
}

// TestCacheHostileRegistry pulls through a Cache from a registry that
// swaps a layer of an image pinned by digest: nothing is cached, twice;
// the same digest from an honest registry (Debian's docker-registry) is
// cached with the honest module and the layers' digests in its marker;
// and the hostile registry then gets the honest entry, not its layer.
func TestCacheHostileRegistry(t *testing.T) {
	srv := registrytest.Serve(t)
	reg := registrytest.Start(t)
	layer := registrytest.Layer(t, registrytest.Gzip, moduleTar(t, honestModule))
	img := registrytest.ImageOf(t, layer)
	d := digestOf(t, img).String()
	srv.Put(t, "kmod/cached", "v1", img)
	reg.Push(t, "kmod/cached", "v1", img)
	hostile, honest := srv.Host+"/kmod/cached@"+d, reg.Host+"/kmod/cached@"+d
	evil := layerBytes(t, registrytest.Layer(t, registrytest.Gzip, moduleTar(t, evilModule)))
	srv.SetFault(digestOf(t, layer).String(), registrytest.Fault{Body: evil, NoLength: true})

	c := kmodimage.Cache{Dir: t.TempDir()}
	extract := func(ref string) (string, error) {
		img, err := kmodimage.OpenImage(t.Context(), ref, pullOpts())
		if err != nil {
			return "", err
		}
		return c.Extract(t.Context(), img, opts())
	}
	for range 2 {
		_, err := extract(hostile)
		if !errors.Is(err, kmodimage.ErrDigestMismatch) || !strings.Contains(err.Error(), hostile) {
			t.Fatalf("hostile pull = %v, want ErrDigestMismatch naming %s", err, hostile)
		}
		if got := cacheEntries(t, c.Dir); len(got) != 0 {
			t.Fatalf("a refused pull left %q in the cache", got)
		}
	}
	dir, err := extract(honest)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, kdir, "extra/good.ko")); err != nil || string(b) != honestModule {
		t.Fatalf("cached module: %q, %v", b, err)
	}
	var m struct {
		Version int
		Digest  string
		Layers  []string
		DiffIDs []string
	}
	b, err := os.ReadFile(filepath.Join(dir, ".gokmod-cache-complete"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	diffID, _ := layer.DiffID()
	if m.Version != 2 || m.Digest != d || !slices.Equal(m.Layers, []string{digestOf(t, layer).String()}) || !slices.Equal(m.DiffIDs, []string{diffID.String()}) {
		t.Errorf("marker %s", b)
	}
	again, err := extract(hostile)
	if err != nil || again != dir {
		t.Fatalf("hostile pull after the honest one = %q, %v; want the cached %q", again, err, dir)
	}
}

// TestCacheMarkerChecked: an entry is served only when its marker names
// the image's digest, options and layers, and says the layers were
// checked; otherwise it is extracted again.
func TestCacheMarkerChecked(t *testing.T) {
	c := kmodimage.Cache{Dir: t.TempDir()}
	img := &countingImage{Image: registrytest.Image(t, baseLayer())}
	dir, err := c.Extract(t.Context(), img, opts())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ".gokmod-cache-complete")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, edit := range []func(m map[string]any){
		func(m map[string]any) { delete(m, "version") }, // written by a gokmod that checked no layer
		func(m map[string]any) { m["digest"] = "sha256:" + strings.Repeat("0", 64) },
		func(m map[string]any) { m["layers"] = []string{"sha256:" + strings.Repeat("1", 64)} },
		func(m map[string]any) { m["fields"] = []string{"other"} },
	} {
		var m map[string]any
		if err := json.Unmarshal(orig, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		b, _ := json.Marshal(m)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, kdir, "extra/good.ko"), []byte("stale"), 0o644); err != nil {
			t.Fatal(err)
		}
		again, err := c.Extract(t.Context(), img, opts())
		if err != nil || again != dir {
			t.Fatalf("edit %d: Extract = %q, %v", i, again, err)
		}
		if n := img.layersCalls.Load(); n != int32(i+2) {
			t.Errorf("edit %d: layers read %d times in all, want %d", i, n, i+2)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, kdir, "extra/good.ko")); string(b) != "good module" {
			t.Errorf("edit %d: good.ko = %q after re-extraction", i, b)
		}
	}
}

// tamperedImage is an image whose layers' compressed bytes are replaced
// (the manifest still names the originals), served one byte per read so
// that no read-ahead reaches the end of a layer by chance.
type tamperedImage struct {
	v1.Image
	blobs map[int][]byte // by layer index
}

// Layers returns the layers, tampered.
func (ti *tamperedImage) Layers() ([]v1.Layer, error) {
	ls, err := ti.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = &tamperedLayer{Layer: l, blob: ti.blobs[i]}
	}
	return out, nil
}

// tamperedLayer is a layer of a tamperedImage.
type tamperedLayer struct {
	v1.Layer
	blob []byte // nil: the original bytes
}

// Compressed returns the tampered bytes, one per read.
func (l *tamperedLayer) Compressed() (io.ReadCloser, error) {
	if l.blob == nil {
		rc, err := l.Layer.Compressed()
		if err != nil {
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{iotest.OneByteReader(rc), rc}, nil
	}
	return io.NopCloser(iotest.OneByteReader(bytes.NewReader(l.blob))), nil
}

// TestExtractTamperedLayer gives Extract, without a registry, layers
// whose last bytes (after the tar end marker, in the gzip trailer, in the
// zstd checksum) or gzip header differ from the descriptor's digest,
// read one byte at a time: only reading each layer to its end finds
// them. A layer whose tar archive is not the config's diff_id is refused
// too. Nothing is written.
func TestExtractTamperedLayer(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    registrytest.Compression
		at   int
	}{
		{"plain, padding", registrytest.Uncompressed, -1},
		{"gzip, trailer", registrytest.Gzip, -1},
		{"gzip, header", registrytest.Gzip, 9},
		{"zstd, checksum", registrytest.Zstd, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layer := registrytest.Layer(t, tc.c, moduleTar(t, honestModule))
			img := registrytest.ImageOf(t, layer)
			s := newSandbox(t)
			bad := &tamperedImage{Image: img, blobs: map[int][]byte{0: flipAt(layerBytes(t, layer), tc.at)}}
			err := s.extract(t, bad, opts())
			if !errors.Is(err, kmodimage.ErrDigestMismatch) || !strings.Contains(err.Error(), digestOf(t, layer).String()) {
				t.Fatalf("Extract = %v, want ErrDigestMismatch naming the layer", err)
			}
			s.checkEmpty(t)
			s.mustExtract(t, &tamperedImage{Image: img}, opts())
			if got := s.readFile(t, kdir+"/extra/good.ko"); got != honestModule {
				t.Errorf("good.ko = %q", got)
			}
		})
	}
	t.Run("diff_id", func(t *testing.T) {
		img := registrytest.ImageOf(t, registrytest.Layer(t, registrytest.Gzip, moduleTar(t, honestModule)))
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cfg = cfg.DeepCopy()
		cfg.RootFS.DiffIDs[0] = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
		if img, err = mutate.ConfigFile(img, cfg); err != nil {
			t.Fatal(err)
		}
		s := newSandbox(t)
		err = s.extract(t, img, opts())
		if !errors.Is(err, kmodimage.ErrDigestMismatch) || !strings.Contains(err.Error(), "diff_id") {
			t.Fatalf("Extract = %v, want ErrDigestMismatch naming the diff_id", err)
		}
		s.checkEmpty(t)
	})
}

// rawImage is an image whose manifest and config are given as bytes; its
// layers are those of the embedded image.
type rawImage struct {
	v1.Image
	manifest, config []byte
}

// RawManifest returns the manifest.
func (r *rawImage) RawManifest() ([]byte, error) { return r.manifest, nil }

// RawConfigFile returns the config.
func (r *rawImage) RawConfigFile() ([]byte, error) { return r.config, nil }

// editJSON decodes b, has edit change it and encodes it again.
func editJSON(t *testing.T, b []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExtractMissingDigest gives Extract images whose manifest's config
// or layer descriptor has no digest, or whose config lists fewer
// diff_ids than the manifest has layers, and an OCI layout whose
// index.json entry has no digest: none is taken on its size alone, each
// is refused with ErrDigestMismatch naming what has no digest, and
// nothing is written.
func TestExtractMissingDigest(t *testing.T) {
	second, err := registrytest.Tar([]registrytest.Entry{dir("opt/"), file("opt/readme", "second layer")})
	if err != nil {
		t.Fatal(err)
	}
	img := registrytest.ImageOf(t,
		registrytest.Layer(t, registrytest.Gzip, moduleTar(t, honestModule)),
		registrytest.Layer(t, registrytest.Gzip, registrytest.Padded(second)))
	manifest, config := mustRaw(t, img), mustRawConfig(t, img)
	noDigest := func(field string, i int) func(m map[string]any) {
		return func(m map[string]any) {
			d := m[field]
			if l, ok := d.([]any); ok {
				d = l[i]
			}
			delete(d.(map[string]any), "digest")
		}
	}
	// A config with one diff_id, and a manifest naming it.
	oneDiffID := editJSON(t, config, func(m map[string]any) {
		rootfs := m["rootfs"].(map[string]any)
		rootfs["diff_ids"] = rootfs["diff_ids"].([]any)[:1]
	})
	namingIt := editJSON(t, manifest, func(m map[string]any) {
		c := m["config"].(map[string]any)
		c["digest"], c["size"] = digestOfBytes(oneDiffID).String(), len(oneDiffID)
	})
	for _, tc := range []struct {
		name             string
		manifest, config []byte
		says             string
	}{
		{"config descriptor", editJSON(t, manifest, noDigest("config", 0)), config, "the config's descriptor has no digest"},
		{"layer descriptor", editJSON(t, manifest, noDigest("layers", 1)), config, "layer 1's descriptor has no digest"},
		{"diff_id", namingIt, oneDiffID, "layer 1's diff_id (rootfs.diff_ids lists 1 of 2) has no digest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := &rawImage{Image: img, manifest: tc.manifest, config: tc.config}
			s := newSandbox(t)
			err := s.extract(t, bad, opts())
			if !errors.Is(err, kmodimage.ErrDigestMismatch) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Extract = %v, want ErrDigestMismatch saying %q", err, tc.says)
			}
			t.Log(err)
			s.checkEmpty(t)
		})
	}
	t.Run("OCI layout index entry", func(t *testing.T) {
		dir := writeLayout(t, img)
		index := filepath.Join(dir, "index.json")
		b, err := os.ReadFile(index)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(index, editJSON(t, b, noDigest("manifests", 0)), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = kmodimage.OpenImage(t.Context(), "oci:"+dir, kmodimage.PullOptions{})
		if !errors.Is(err, kmodimage.ErrDigestMismatch) || !strings.Contains(err.Error(), index+": ") || !strings.Contains(err.Error(), "the manifest's entry has no digest") {
			t.Fatalf("OpenImage = %v, want ErrDigestMismatch naming %s", err, index)
		}
	})
}

// mustRawConfig returns img's config.
func mustRawConfig(t *testing.T, img v1.Image) []byte {
	t.Helper()
	b, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// digestOfBytes returns the sha256 digest of b.
func digestOfBytes(b []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h
}
