package modfile

import (
	"bytes"
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/internal/testmod"
)

// TestBufferDecodesDebian13: one Buffer, reused from module to module as
// depmod's workers reuse theirs, decodes every 10th module of Debian 13's
// tree and the largest (several xz blocks each, which a Buffer decodes
// one after the other with its own decoder) to what Decompress gives.
func TestBufferDecodesDebian13(t *testing.T) {
	paths := sampleWithLargest(t, debian13XZ(t), 10, 3)
	var b Buffer
	defer b.Release()
	for _, p := range paths {
		file, err := os.ReadFile(p)
		require.NoError(t, err)
		want, err := Decompress(bytes.NewReader(file), int64(len(file)), XZ, defaultMaxModuleSize)
		require.NoError(t, err, p)
		got, err := b.DecompressBytes(file, defaultMaxModuleSize)
		require.NoError(t, err, p)
		require.True(t, bytes.Equal(want, got), "%s: the Buffer's image differs", p)
	}
}

// TestBufferXZAfterCorrupt: a Buffer whose decoder failed on a corrupt
// file in the middle of a block decodes the next file right: nothing of
// the failed decoding carries over.
func TestBufferXZAfterCorrupt(t *testing.T) {
	img, xz := xzLike(t, 3<<20, 3)
	var b Buffer
	defer b.Release()
	for i, off := range []int{len(xz) / 3, len(xz) / 2, 200} {
		bad := bytes.Clone(xz)
		bad[off] ^= 0x55
		_, err := b.DecompressBytes(bad, 64<<20)
		assert.Error(t, err, "corruption %d", i)
		got, err := b.DecompressBytes(xz, 64<<20)
		require.NoError(t, err, "after corruption %d", i)
		require.True(t, bytes.Equal(img, got), "after corruption %d: the image differs", i)
	}
}

// TestBufferXZDecoderReused: decoding with a Buffer allocates no decoder
// per file (its state and input buffer are near 100 KiB).
func TestBufferXZDecoderReused(t *testing.T) {
	_, xz := xzLike(t, 256<<10, 4)
	var b Buffer
	defer b.Release()
	_, err := b.DecompressBytes(xz, 64<<20)
	require.NoError(t, err)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 20
	for range n {
		_, err := b.DecompressBytes(xz, 64<<20)
		require.NoError(t, err)
	}
	runtime.ReadMemStats(&after)
	perFile := (after.TotalAlloc - before.TotalAlloc) / n
	assert.Less(t, perFile, uint64(16<<10), "bytes allocated per decoding into a Buffer")
}

// xzLike returns moduleLike(n, seed) and its xz compression.
func xzLike(t *testing.T, n int, seed uint64) (img, xz []byte) {
	t.Helper()
	img = moduleLike(n, seed)
	xz, err := testmod.Compress(img, testmod.Xz)
	require.NoError(t, err)
	return img, xz
}
