package kmodimage

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrDigestMismatch reports content of an image that is not what the
// descriptor naming it says: a manifest or index whose digest is not the
// one of the reference or of the index listing it, a config or a layer
// whose digest or size is not the manifest's, a layer's tar archive whose
// digest is not the config's diff_id. It also reports a descriptor (of an
// index entry, the config, a layer) or a diff_id that has no digest: such
// content cannot be checked, and is not taken on its size alone.
var ErrDigestMismatch = errors.New("content does not match its digest")

// blobReader reads a blob through a check of its digest and size. It
// reads at most one byte more than its limit, and instead of the end of
// the blob, or the byte past the limit, it returns an error: wrapping
// ErrDigestMismatch when the blob is longer or shorter than its size or
// its digest is not the expected one, ErrTooLarge when a blob of unknown
// size goes over the limit. Errors stick.
type blobReader struct {
	r      io.Reader
	what   string  // "blob", "manifest", "tar archive": for messages
	digest v1.Hash // the expected digest; zero: not checked (a manifest named by tag)
	size   int64   // the expected size; -1: unknown
	limit  int64   // the most bytes accepted
	h      hash.Hash
	n      int64
	done   bool // the end was reached and checked
	err    error
}

// newBlobReader returns a blobReader of r. A size of -1 means unknown,
// and then limit bounds the blob; otherwise the size is the limit.
func newBlobReader(r io.Reader, what string, digest v1.Hash, size, limit int64) (*blobReader, error) {
	b := &blobReader{r: r, what: what, digest: digest, size: size, limit: limit}
	if size >= 0 {
		b.limit = size
	} else if size != -1 {
		return nil, fmt.Errorf("%s %s: negative size %d", what, digest, size)
	}
	if digest != (v1.Hash{}) {
		h, err := v1.Hasher(digest.Algorithm)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", what, digest, err)
		}
		b.h = h
	}
	return b, nil
}

// Read reads from the blob. When the bytes read reach a known size it
// reads one more, to see that the blob ends there, before returning them.
func (b *blobReader) Read(p []byte) (int, error) {
	switch {
	case b.err != nil:
		return 0, b.err
	case b.done:
		return 0, io.EOF
	}
	if room := b.limit - b.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.r.Read(p)
	b.count(p[:n])
	if b.n > b.limit {
		return 0, b.fail(b.tooLong())
	}
	if err == nil && b.size >= 0 && b.n == b.size {
		var one [1]byte
		m, perr := io.ReadFull(b.r, one[:])
		if b.count(one[:m]); m > 0 {
			return 0, b.fail(b.tooLong())
		}
		err = perr
	}
	if err == io.EOF {
		if cerr := b.check(); cerr != nil {
			return 0, b.fail(cerr)
		}
		b.done = true
		if n == 0 {
			return 0, io.EOF
		}
		err = nil
	}
	if err != nil {
		return n, b.fail(err)
	}
	return n, nil
}

// count hashes and counts bytes read.
func (b *blobReader) count(p []byte) {
	if b.h != nil {
		b.h.Write(p)
	}
	b.n += int64(len(p))
}

// fail makes err stick.
func (b *blobReader) fail(err error) error {
	b.err = err
	return err
}

// label names the blob in messages: "blob sha256:HEX".
func (b *blobReader) label() string {
	if d := b.digest.String(); b.digest != (v1.Hash{}) && !strings.HasSuffix(b.what, d) {
		return b.what + " " + d
	}
	return b.what
}

// tooLong describes a blob going past its limit.
func (b *blobReader) tooLong() error {
	if b.size >= 0 {
		return fmt.Errorf("%s: %w: longer than the %d bytes its descriptor says", b.label(), ErrDigestMismatch, b.size)
	}
	return fmt.Errorf("%s: %w: more than %d bytes", b.label(), ErrTooLarge, b.limit)
}

// check checks the size and digest of a blob read to its end.
func (b *blobReader) check() error {
	if b.size >= 0 && b.n != b.size {
		return fmt.Errorf("%s: %w: %d bytes, its descriptor says %d", b.label(), ErrDigestMismatch, b.n, b.size)
	}
	if b.h == nil {
		return nil
	}
	got := v1.Hash{Algorithm: b.digest.Algorithm, Hex: hex.EncodeToString(b.h.Sum(nil))}
	if got != b.digest {
		return fmt.Errorf("%s: %w: got %s (%d bytes)", b.label(), ErrDigestMismatch, got, b.n)
	}
	return nil
}

// finish reads the rest of the blob, so that it is checked to its end,
// and returns the result of the check.
func (b *blobReader) finish() error {
	_, err := io.Copy(io.Discard, b)
	return err
}

// readBlob reads all of r, checked against digest and size (-1 when
// unknown, and then at most limit bytes).
func readBlob(r io.Reader, what string, digest v1.Hash, size, limit int64) ([]byte, error) {
	if size > limit {
		return nil, fmt.Errorf("%s %s: %w: its descriptor says %d bytes, over the limit of %d", what, digest, ErrTooLarge, size, limit)
	}
	b, err := newBlobReader(r, what, digest, size, limit)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(b)
}

// checkBytes checks b, already in memory, against a descriptor's digest
// and size (-1: any size up to MaxManifestSize).
func checkBytes(b []byte, what string, digest v1.Hash, size int64) error {
	_, err := readBlob(bytes.NewReader(b), what, digest, size, MaxManifestSize)
	return err
}

// requireDigest refuses a digest that a descriptor or a config lacks:
// the error wraps ErrDigestMismatch and names what lacks it ("layer 2's
// descriptor"). Content that nothing names cannot be checked; only a
// manifest named by tag is read without a digest.
func requireDigest(h v1.Hash, what string) error {
	if h.Algorithm == "" || h.Hex == "" {
		return fmt.Errorf("%w: %s has no digest", ErrDigestMismatch, what)
	}
	return nil
}

// digestOf returns the sha256 digest of b.
func digestOf(b []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h
}

// ctxReader reads r until ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read reads from r if ctx has not ended.
func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// unbounded is the limit of a blob that nothing but its source bounds.
const unbounded = math.MaxInt64 - 1
