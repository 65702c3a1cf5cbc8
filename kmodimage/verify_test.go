package kmodimage

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// countReader counts the bytes read from r.
type countReader struct {
	r io.Reader
	n int64
}

// Read reads and counts.
func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// endless reads the byte 'x' forever.
type endless struct{}

// Read fills p.
func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func TestBlobReader(t *testing.T) {
	blob := []byte(strings.Repeat("layer bytes ", 1000))
	d := digestOf(blob)
	for _, tc := range []struct {
		name    string
		src     io.Reader
		size    int64
		want    error // nil: the blob reads whole
		maxRead int64 // the most bytes it may take from src
	}{
		{"honest", bytes.NewReader(blob), int64(len(blob)), nil, int64(len(blob)) + 1},
		{"honest, a byte per read", iotest.OneByteReader(bytes.NewReader(blob)), int64(len(blob)), nil, int64(len(blob)) + 1},
		{"one byte longer", bytes.NewReader(append(bytes.Clone(blob), 'x')), int64(len(blob)), ErrDigestMismatch, int64(len(blob)) + 1},
		{"without end", io.MultiReader(bytes.NewReader(blob), endless{}), int64(len(blob)), ErrDigestMismatch, int64(len(blob)) + 1},
		{"without end, a byte per read", iotest.OneByteReader(io.MultiReader(bytes.NewReader(blob), endless{})), int64(len(blob)), ErrDigestMismatch, int64(len(blob)) + 1},
		{"shorter", bytes.NewReader(blob[1:]), int64(len(blob)), ErrDigestMismatch, int64(len(blob))},
		{"same size, other bytes", bytes.NewReader(bytes.ToUpper(blob)), int64(len(blob)), ErrDigestMismatch, int64(len(blob)) + 1},
		{"size unknown, over the limit", endless{}, -1, ErrTooLarge, 4097},
		{"failing source", iotest.ErrReader(io.ErrClosedPipe), int64(len(blob)), io.ErrClosedPipe, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &countReader{r: tc.src}
			b, err := newBlobReader(src, "blob", d, tc.size, 4096)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(b)
			if tc.want == nil {
				if err != nil || !bytes.Equal(got, blob) {
					t.Fatalf("read %d bytes, %v; want the blob", len(got), err)
				}
			} else if !errors.Is(err, tc.want) {
				t.Fatalf("read: %v, want %v", err, tc.want)
			}
			if src.n > tc.maxRead {
				t.Errorf("took %d bytes from the source, more than %d", src.n, tc.maxRead)
			}
			if err2 := b.finish(); !errors.Is(err2, tc.want) {
				t.Errorf("finish after the read = %v, want the same error", err2)
			}
		})
	}
	if _, err := newBlobReader(bytes.NewReader(nil), "blob", d, -2, 0); err == nil {
		t.Error("a negative size was accepted")
	}
}

// TestResolveManifestMissingDigest follows an index whose entry for the
// platform has no digest: it is refused with ErrDigestMismatch before
// anything is fetched.
func TestResolveManifestMissingDigest(t *testing.T) {
	raw := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":100,"platform":{"os":"linux","architecture":"amd64"}}]}`)
	desc := v1.Descriptor{MediaType: types.OCIImageIndex, Size: -1}
	fetched := 0
	_, _, err := resolveManifest(desc, raw, v1.Platform{OS: "linux", Architecture: "amd64"}, func(v1.Descriptor) ([]byte, error) {
		fetched++
		return nil, errors.New("fetched")
	})
	if !errors.Is(err, ErrDigestMismatch) || !strings.Contains(err.Error(), "the entry for linux/amd64 has no digest") || fetched != 0 {
		t.Fatalf("resolveManifest = %v after %d fetches, want ErrDigestMismatch naming the entry, no fetch", err, fetched)
	}
}
