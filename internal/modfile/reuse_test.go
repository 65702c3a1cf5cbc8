package modfile

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

// moduleLike returns n bytes that compress like a module (text and
// repeats, not noise).
func moduleLike(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	words := []string{"\x7fELF", "module_init", "__ksymtab_", "vermagic=", "\x00\x00\x00\x00", "license=GPL"}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(byte(r.IntN(256)))
	}
	return b.Bytes()[:n]
}

// TestBufferReused: xz images decode into the Buffer's storage while it
// is large enough, grow it when not, and are correct either way.
func TestBufferReused(t *testing.T) {
	big, small := moduleLike(3<<20, 1), moduleLike(1<<20, 2)
	xzBig, err := testmod.Compress(big, testmod.Xz)
	if err != nil {
		t.Fatal(err)
	}
	xzSmall, err := testmod.Compress(small, testmod.Xz)
	if err != nil {
		t.Fatal(err)
	}
	var b Buffer
	defer b.Release()
	img1, err := b.DecompressBytes(xzBig, 64<<20)
	if err != nil || !bytes.Equal(img1, big) {
		t.Fatalf("first image: %v", err)
	}
	img2, err := b.DecompressBytes(xzSmall, 64<<20)
	if err != nil || !bytes.Equal(img2, small) {
		t.Fatalf("second image: %v", err)
	}
	if &img1[0] != &img2[0] {
		t.Error("the smaller image did not reuse the buffer's storage")
	}

	// Decoding again and again allocates far less than the images: the
	// buffer's memory is outside the heap.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := b.DecompressBytes(xzBig, 64<<20); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > uint64(len(big)) {
		t.Errorf("10 decodings into a Buffer allocated %d bytes, more than one image (%d)", got, len(big))
	}

	// A nil Buffer allocates, as the package's functions do.
	var nb *Buffer
	img3, err := nb.DecompressBytes(xzSmall, 64<<20)
	if err != nil || !bytes.Equal(img3, small) {
		t.Fatalf("nil Buffer: %v", err)
	}
}
