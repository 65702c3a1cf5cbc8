package registrytest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Compression says how a layer made by Layer is stored.
type Compression int

// The compressions of Layer.
const (
	Gzip Compression = iota
	Zstd
	Uncompressed
)

// tarRecord is tar's default record size: GNU tar pads an archive with
// zero bytes to a multiple of it.
const tarRecord = 10240

// Padded returns the tar archive b followed by zero bytes up to a
// multiple of 10240 bytes, as GNU tar writes an archive: the padding lies
// after the archive's end marker, where a tar reader stops.
func Padded(b []byte) []byte {
	return append(b, make([]byte, tarRecord-len(b)%tarRecord)...)
}

// Layer returns a layer whose content is the tar archive b, stored with
// compression c. Its compressed bytes are computed once, so that a test
// can serve an altered copy of exactly them.
func Layer(tb testing.TB, c Compression, b []byte) v1.Layer {
	tb.Helper()
	l := &fixedLayer{uncompressed: b}
	switch c {
	case Gzip:
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		if err := w.Close(); err != nil {
			tb.Fatalf("registrytest: %v", err)
		}
		l.compressed, l.mediaType = buf.Bytes(), types.OCILayer
	case Zstd:
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			tb.Fatalf("registrytest: %v", err)
		}
		l.compressed, l.mediaType = enc.EncodeAll(b, nil), types.OCILayerZStd
		enc.Close()
	case Uncompressed:
		l.compressed, l.mediaType = b, types.OCIUncompressedLayer
	default:
		tb.Fatalf("registrytest: unknown compression %d", c)
	}
	return l
}

// ImageOf returns an image of the layers in order, on top of an empty
// image.
func ImageOf(tb testing.TB, layers ...v1.Layer) v1.Image {
	tb.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	return img
}

// fixedLayer is a layer of fixed bytes.
type fixedLayer struct {
	compressed, uncompressed []byte
	mediaType                types.MediaType
}

// sha256Of returns the sha256 digest of b.
func sha256Of(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// Digest returns the digest of the compressed bytes.
func (l *fixedLayer) Digest() (v1.Hash, error) { return sha256Of(l.compressed), nil }

// DiffID returns the digest of the tar archive.
func (l *fixedLayer) DiffID() (v1.Hash, error) { return sha256Of(l.uncompressed), nil }

// Compressed returns the compressed bytes.
func (l *fixedLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.compressed)), nil
}

// Uncompressed returns the tar archive.
func (l *fixedLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.uncompressed)), nil
}

// Size returns the size of the compressed bytes.
func (l *fixedLayer) Size() (int64, error) { return int64(len(l.compressed)), nil }

// MediaType returns the layer's media type.
func (l *fixedLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
