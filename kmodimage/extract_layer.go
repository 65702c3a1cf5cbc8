package kmodimage

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// run applies the image's layers in order, each checked to its end, and
// checks that the parts exist.
func (x *extractor) run(im *imageManifest) error {
	diffIDs, err := im.diffIDs()
	if err != nil {
		return err
	}
	layers, err := im.img.Layers()
	if err != nil {
		return err
	}
	if len(layers) != len(im.m.Layers) {
		return fmt.Errorf("%d layers, the manifest lists %d", len(layers), len(im.m.Layers))
	}
	for _, pt := range x.parts {
		if err := x.root.MkdirAll(path.Dir(pt.rel), 0o755); err != nil {
			return err
		}
	}
	if err := walkLayers(x.ctx, im, layers, diffIDs, func(_ int, tr *tar.Reader) error { return x.applyEntries(tr) }); err != nil {
		return err
	}
	for i, pt := range x.parts {
		if _, err := x.root.Lstat(pt.rel); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if i == 0 { // the kernel directory
			return fmt.Errorf("%s: %w (%s)", pt.abs(), ErrNotInImage, x.haveVersions())
		}
		return fmt.Errorf("%s %s: %w", pt.what, pt.abs(), ErrNotInImage)
	}
	return nil
}

// haveVersions describes the kernel versions the image has.
func (x *extractor) haveVersions() string {
	delete(x.versions, x.kernel)
	if len(x.versions) == 0 {
		return fmt.Sprintf("the image has no kernel versions under /%s", x.modules)
	}
	vs := slices.Sorted(maps.Keys(x.versions))
	return fmt.Sprintf("image has %s under /%s", strings.Join(vs, ", "), x.modules)
}

// walkLayers hands the tar archive of each of the image's layers, in
// order, to apply, each checked to its end against its digests (see
// walkLayer); layers are im.img's, diffIDs the config's.
func walkLayers(ctx context.Context, im *imageManifest, layers []v1.Layer, diffIDs []v1.Hash, apply func(i int, tr *tar.Reader) error) error {
	for i, l := range layers {
		each := func(tr *tar.Reader) error { return apply(i, tr) }
		if im.tarball != nil {
			if err := walkTarballLayer(ctx, im.tarball, i, diffIDs[i], each); err != nil {
				return fmt.Errorf("layer %d (%s in the tarball): %w", i, im.tarball.layers[i], err)
			}
			continue
		}
		d := im.m.Layers[i]
		if err := walkLayer(ctx, l, d, diffIDs[i], each); err != nil {
			return fmt.Errorf("layer %d (%s): %w", i, d.Digest, err)
		}
	}
	return nil
}

// walkLayer hands the tar archive of the layer l, whose descriptor in
// the manifest is desc and whose tar archive's digest the config gives as
// diffID, to apply. It returns nil only when the whole of the layer's
// blob has been read and matched desc and the whole of its tar archive
// matched diffID.
//
// When reading the layer fails otherwise than on a refused entry or the
// end of ctx, the rest of the blob is read to tell a tampered layer (the
// error then wraps ErrDigestMismatch) from a broken one.
func walkLayer(ctx context.Context, l v1.Layer, desc v1.Descriptor, diffID v1.Hash, apply func(*tar.Reader) error) error {
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	blob, err := newBlobReader(ctxReader{ctx, rc}, "blob", desc.Digest, desc.Size, desc.Size)
	if err != nil {
		return err
	}
	err = walkLayerStream(ctx, blob, diffID, apply)
	if err == nil || errors.Is(err, ErrDigestMismatch) || ctx.Err() != nil ||
		errors.Is(err, ErrUnsafeEntry) || errors.Is(err, ErrTooLarge) {
		return err
	}
	if berr := blob.finish(); errors.Is(berr, ErrDigestMismatch) {
		return fmt.Errorf("%w (reading it: %v)", berr, err)
	}
	return err
}

// walkTarballLayer hands layer i of the tarball image t to apply, read
// from its file in the tarball as it is there (go-containerregistry's
// Compressed would compress a plain tar archive only for it to be
// decompressed again), and checked against diffID only: the tarball has
// no digests of its own for the file.
func walkTarballLayer(ctx context.Context, t *tarballImage, i int, diffID v1.Hash, apply func(*tar.Reader) error) error {
	rc, err := t.openLayer(i)
	if err != nil {
		return err
	}
	defer rc.Close()
	return walkLayerStream(ctx, ctxReader{ctx, rc}, diffID, apply)
}

// walkLayerStream hands the layer read from blob to apply, and then reads what
// follows the tar archive's end marker, where the tar reader stops
// (padding; for gzip, the trailer and its checksum), and the rest of the
// blob, so that the digests checked while reading blob (a blobReader's)
// and the tar archive's cover every byte.
func walkLayerStream(ctx context.Context, blob io.Reader, diffID v1.Hash, apply func(*tar.Reader) error) error {
	br := bufio.NewReaderSize(blob, 64<<10)
	un, closeUn, err := decompressor(br)
	if err != nil {
		return err
	}
	defer closeUn()
	archive, err := newBlobReader(ctxReader{ctx, un}, "tar archive (diff_id)", diffID, -1, unbounded)
	if err != nil {
		return err
	}
	if err := apply(tar.NewReader(archive)); err != nil {
		return err
	}
	if err := archive.finish(); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, br) // a blobReader checks its blob at its end
	return err
}

// applyEntries applies the entries of a layer's tar archive.
func (x *extractor) applyEntries(tr *tar.Reader) error {
	clear(x.current)
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

// The magic numbers that start a gzip and a zstd stream.
const (
	gzipMagic = "\x1f\x8b"
	zstdMagic = "\x28\xb5\x2f\xfd"
)

// zstdMaxWindow is the largest zstd window a layer may use: libzstd's
// default limit (ZSTD_WINDOWLOG_LIMIT_DEFAULT, 27).
const zstdMaxWindow = 1 << 27

// decompressor returns the tar archive of a layer's blob br, which is
// gzip or zstd by its magic number and a plain tar archive otherwise, and
// a function that releases the decompressor.
func decompressor(br *bufio.Reader) (io.Reader, func(), error) {
	magic, _ := br.Peek(len(zstdMagic)) // a short or failing blob fails in the tar reader
	switch {
	case strings.HasPrefix(string(magic), gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case strings.HasPrefix(string(magic), zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, zr.Close, nil
	default:
		return br, func() {}, nil
	}
}
