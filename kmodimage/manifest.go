package kmodimage

import (
	"bytes"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// MaxManifestSize is the most bytes OpenImage and Extract read of a
// manifest, an index, an OCI layout's index.json or an image's config
// (the distribution registry's own limit for manifests). Anything larger
// is refused with an error wrapping ErrTooLarge before it is parsed; a
// registry's answer saying so in its Content-Length is not read at all.
const MaxManifestSize = 4 << 20

// openedImage is an image OpenImage returns: it remembers the reference
// and the digest of the manifest OpenImage checked, for Extract's
// messages and checks.
type openedImage struct {
	v1.Image
	ref    string
	digest v1.Hash
}

// imageManifest is an image's manifest, read once: the digest that names
// the image (in messages and in Cache's keys) is the digest of these
// bytes, and every config and layer read afterwards is checked against
// the descriptors they hold.
type imageManifest struct {
	img    v1.Image
	name   string // for messages: `"REF" (sha256:HEX)` or "sha256:HEX"
	digest v1.Hash
	m      *v1.Manifest
	// diffs are the config's diff_ids, once diffIDs has read them.
	diffs []v1.Hash
	// tarball is the image when it is a tarball's, whose layers are
	// checked against the diff_ids only; nil otherwise.
	tarball *tarballImage
}

// readManifest reads and parses img's manifest.
func readManifest(img v1.Image) (*imageManifest, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("image manifest: %w", err)
	}
	if len(raw) > MaxManifestSize {
		return nil, fmt.Errorf("image manifest: %w: %d bytes, over the limit of %d", ErrTooLarge, len(raw), MaxManifestSize)
	}
	im := &imageManifest{img: img, digest: digestOf(raw)}
	im.name = im.digest.String()
	if o, ok := img.(*openedImage); ok {
		im.name = fmt.Sprintf("%q (%s)", o.ref, im.digest)
		if o.digest != im.digest {
			return nil, fmt.Errorf("image %q: manifest %s: %w: got %s", o.ref, o.digest, ErrDigestMismatch, im.digest)
		}
		im.tarball, _ = o.Image.(*tarballImage)
	}
	if im.m, err = v1.ParseManifest(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", im.name, err)
	}
	if err := requireDigest(im.m.Config.Digest, "the config's descriptor"); err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", im.name, err)
	}
	for i, l := range im.m.Layers {
		if err := requireDigest(l.Digest, fmt.Sprintf("layer %d's descriptor", i)); err != nil {
			return nil, fmt.Errorf("image %s: manifest: %w", im.name, err)
		}
	}
	return im, nil
}

// diffIDs reads the image's config, checked against the manifest's
// config descriptor, and returns the digests of the layers' tar archives
// that it lists, one per layer of the manifest.
func (im *imageManifest) diffIDs() ([]v1.Hash, error) {
	d := im.m.Config
	if d.Size > MaxManifestSize {
		return nil, fmt.Errorf("config %s: %w: its descriptor says %d bytes, over the limit of %d", d.Digest, ErrTooLarge, d.Size, MaxManifestSize)
	}
	raw, err := im.img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	if err := checkBytes(raw, "config", d.Digest, d.Size); err != nil {
		return nil, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", d.Digest, err)
	}
	ids := cfg.RootFS.DiffIDs
	if len(ids) > len(im.m.Layers) {
		return nil, fmt.Errorf("config %s: %w: it lists %d layers (rootfs.diff_ids), the manifest %d", d.Digest, ErrDigestMismatch, len(ids), len(im.m.Layers))
	}
	for i := range im.m.Layers {
		var id v1.Hash
		if i < len(ids) {
			id = ids[i]
		}
		if err := requireDigest(id, fmt.Sprintf("layer %d's diff_id (rootfs.diff_ids lists %d of %d)", i, len(ids), len(im.m.Layers))); err != nil {
			return nil, fmt.Errorf("config %s: %w", d.Digest, err)
		}
	}
	im.diffs = ids
	return ids, nil
}
