package modfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBufferMapPlain: a small plain module is read into the Buffer (the
// image is the Buffer's memory), a larger one mapped, and either way the
// image is the file; a nil Buffer maps, and limits and short files still
// fail.
func TestBufferMapPlain(t *testing.T) {
	dir := t.TempDir()
	small, large := moduleLike(4<<10, 3), moduleLike(readBelow+1, 4)
	smallPath, largePath := filepath.Join(dir, "small.ko"), filepath.Join(dir, "large.ko")
	require.NoError(t, os.WriteFile(smallPath, small, 0o644))
	require.NoError(t, os.WriteFile(largePath, large, 0o644))

	var b Buffer
	defer b.Release()
	img, release, err := b.Map(smallPath, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, small, img)
	mem := b.b[:cap(b.b)]
	require.NotEmpty(t, mem, "the small file went to the Buffer")
	assert.Same(t, &mem[0], &img[0], "the image is the Buffer's memory")
	release()

	img, release, err = b.Map(largePath, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, large, img)
	assert.NotSame(t, &mem[0], &img[0], "a file over readBelow is mapped")
	release()

	img, release, err = (*Buffer)(nil).Map(smallPath, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, small, img)
	release()

	_, _, err = b.Map(smallPath, 100)
	assert.ErrorIs(t, err, ErrTooLarge)
	short := filepath.Join(dir, "short.ko")
	require.NoError(t, os.WriteFile(short, []byte("\x7fEL"), 0o644))
	_, _, err = b.Map(short, 1<<20)
	assert.ErrorIs(t, err, syscall.ENOEXEC)
}
