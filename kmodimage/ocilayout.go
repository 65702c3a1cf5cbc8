package kmodimage

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gokmod/modprobe/internal/fileio"
)

// ociLayout is an OCI image layout directory. It is read here rather than
// with go-containerregistry's layout package, which checks no digest and
// bounds no read: index.json is read up to MaxManifestSize, every blob is
// opened as a regular file only (a FIFO would block) and checked against
// its descriptor.
type ociLayout string

// openLayout resolves spec ("DIR", "DIR:TAG" or "DIR@DIGEST") in an OCI
// image layout.
func openLayout(spec string, platform v1.Platform) (v1.Image, error) {
	dir, tag, digest, err := splitLayoutSpec(spec)
	if err != nil {
		return nil, err
	}
	l := ociLayout(dir)
	b, err := fileio.ReadInput(filepath.Join(dir, "index.json"), MaxManifestSize)
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "index.json"), err)
	}
	desc, err := pickManifest(idx.Manifests, tag, digest)
	if err != nil {
		return nil, err
	}
	if err := requireDigest(desc.Digest, "the manifest's entry"); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "index.json"), err)
	}
	raw, err := l.manifest(desc)
	if err != nil {
		return nil, err
	}
	desc, raw, err = resolveManifest(desc, raw, platform, l.manifest)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	return partial.CompressedToImage(&layoutImage{dir: l, raw: raw, m: m, mediaType: desc.MediaType})
}

// readBlob reads the blob d names, checked against d, refusing one whose
// descriptor says more than limit bytes.
func (l ociLayout) readBlob(d v1.Descriptor, what string, limit int64) ([]byte, error) {
	f, err := l.open(d.Digest)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readBlob(f, what, d.Digest, d.Size, limit)
}

// manifest reads the manifest or index d names.
func (l ociLayout) manifest(d v1.Descriptor) ([]byte, error) {
	return l.readBlob(d, "manifest", MaxManifestSize)
}

// open opens the blob with digest d.
func (l ociLayout) open(d v1.Hash) (io.ReadCloser, error) {
	// v1.Hash admits only a known algorithm and hex digits: the path
	// stays in the layout.
	return openRegular(filepath.Join(string(l), "blobs", d.Algorithm, d.Hex))
}

// openRegular opens the regular file at path, refusing anything else
// without blocking on a FIFO.
func openRegular(path string) (io.ReadCloser, error) {
	f, err := fileio.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// layoutImage is an image of an OCI layout, whose manifest has been read
// and checked.
type layoutImage struct {
	dir       ociLayout
	raw       []byte
	m         *v1.Manifest
	mediaType types.MediaType
}

// RawManifest returns the manifest.
func (i *layoutImage) RawManifest() ([]byte, error) { return i.raw, nil }

// MediaType returns the manifest's media type, as its index entry says.
func (i *layoutImage) MediaType() (types.MediaType, error) { return i.mediaType, nil }

// RawConfigFile reads the config, checked against the manifest.
func (i *layoutImage) RawConfigFile() ([]byte, error) {
	return i.dir.readBlob(i.m.Config, "config", MaxManifestSize)
}

// LayerByDigest returns the layer or config with digest h.
func (i *layoutImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.m.Config.Digest {
		return &layoutBlob{dir: i.dir, d: i.m.Config}, nil
	}
	for _, d := range i.m.Layers {
		if d.Digest == h {
			return &layoutBlob{dir: i.dir, d: d}, nil
		}
	}
	return nil, fmt.Errorf("no blob %s in the image", h)
}

// layoutBlob is a layer or config of a layoutImage.
type layoutBlob struct {
	dir ociLayout
	d   v1.Descriptor
}

// Digest returns the blob's digest.
func (b *layoutBlob) Digest() (v1.Hash, error) { return b.d.Digest, nil }

// Size returns the blob's size, as the manifest says.
func (b *layoutBlob) Size() (int64, error) { return b.d.Size, nil }

// MediaType returns the blob's media type, as the manifest says.
func (b *layoutBlob) MediaType() (types.MediaType, error) { return b.d.MediaType, nil }

// Compressed opens the blob, read through a check against its
// descriptor: a reader that does not reach the end is not checked
// (Extract reads every layer to its end).
func (b *layoutBlob) Compressed() (io.ReadCloser, error) {
	f, err := b.dir.open(b.d.Digest)
	if err != nil {
		return nil, err
	}
	br, err := newBlobReader(f, "blob", b.d.Digest, b.d.Size, b.d.Size)
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{br, f}, nil
}
