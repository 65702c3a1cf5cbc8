package adversarial_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/memtest"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/modprobetest"
)

// advBomb returns a file that decompresses to size zeros: 1 MiB of zeros
// compressed, repeated (xz streams, zstd frames and gzip members may all
// follow one another in one file), which is quicker to build than
// compressing the whole.
func advBomb(t *testing.T, c testmod.Compression, size int) []byte {
	t.Helper()
	advBombMu.Lock()
	defer advBombMu.Unlock()
	key := fmt.Sprint(c, size)
	if b, ok := advBombs[key]; ok {
		return b
	}
	one, err := testmod.Compress(make([]byte, 1<<20), c)
	if err != nil {
		t.Fatal(err)
	}
	b := bytes.Repeat(one, size>>20)
	advBombs[key] = b
	return b
}

// advBombs caches the bombs, which take seconds to build under -race.
var (
	advBombMu sync.Mutex
	advBombs  = map[string][]byte{}
)

// advZstdWindowBomb returns a zstd frame that declares a 2 GiB window and
// no content size, followed by RLE blocks of zeros.
func advZstdWindowBomb() []byte {
	f := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3} // FHD: no FCS; window 2^(10+21)
	const block = 128 << 10
	for i := range 512 {
		h := uint32(block<<3 | 1<<1) // RLE block
		if i == 511 {
			h |= 1
		}
		f = append(f, byte(h), byte(h>>8), byte(h>>16), 0)
	}
	return f
}

func advCompressCases() []advCase {
	const cat = "compress"
	bombTree := func(t *testing.T, n int) *advEnv {
		e := advTree(t,
			modprobetest.Module{Name: "a"},
			modprobetest.Module{Name: "bx", Path: "kernel/bx.ko.xz"},
			modprobetest.Module{Name: "bz", Path: "kernel/bz.ko.zst"},
			modprobetest.Module{Name: "bg", Path: "kernel/bg.ko.gz"},
			modprobetest.Module{Name: "user", Depends: []string{"a", "bx"}},
		)
		e.maxModuleSize = advBombLimit
		for file, c := range map[string]testmod.Compression{"bx.ko.xz": testmod.Xz, "bz.ko.zst": testmod.Zstd, "bg.ko.gz": testmod.Gzip} {
			e.writeFile(t, "kernel/"+file, string(advBomb(t, c, 64<<20)))
		}
		e.writeFile(t, "kernel/window.ko.zst", string(advZstdWindowBomb()))
		return e
	}
	load := func(name string) func(ctx context.Context, t *testing.T, e *advEnv) error {
		return func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, name) }
	}
	read := func(file string) func(ctx context.Context, t *testing.T, e *advEnv) error {
		return func(ctx context.Context, t *testing.T, e *advEnv) error {
			_, err := modprobe.ReadModuleFile(filepath.Join(e.dir, "kernel", file), advBombLimit)
			return err
		}
	}
	return []advCase{
		{name: "xz bomb", category: cat, setup: bombTree, act: load("bx"), want: advIs(modprobe.ErrTooLarge)},
		{name: "zstd bomb", category: cat, setup: bombTree, act: load("bz"), want: advIs(modprobe.ErrTooLarge)},
		{name: "gzip bomb", category: cat, setup: bombTree, act: load("bg"), want: advIs(modprobe.ErrTooLarge)},
		{
			// The bomb is a dependency: the probe stops there, and the
			// module needing it is not inserted.
			name: "xz bomb as a dependency", category: cat, setup: bombTree, act: load("user"),
			want: advIs(modprobe.ErrTooLarge), inserted: []string{"a"},
		},
		{name: "ReadModuleFile of an xz bomb", category: cat, setup: bombTree, act: read("bx.ko.xz"), want: advIs(modprobe.ErrTooLarge)},
		{name: "ReadModuleFile of a zstd bomb", category: cat, setup: bombTree, act: read("bz.ko.zst"), want: advIs(modprobe.ErrTooLarge)},
		{
			// A 2 GiB window is over libzstd's default limit (128 MiB):
			// refused before any window is allocated.
			name: "zstd frame with a 2 GiB window", category: cat, setup: bombTree, act: read("window.ko.zst"),
			want: advText("zstd", "window"),
		},
	}
}

// advPeakBombCases are the rows of issue 13's "parsers stay linear" on
// decompression (see advTOMLDepthCases for the others), piloted at 1/16
// and 1/8 of their size: decompression bombs of 2 GiB against
// MaxModuleSize = 1 MiB, in the forms that made a decoder hold the most
// (no size stated, a gzip ISIZE of exactly the limit, a zstd window, a
// zstd content size of the limit that the frame exceeds, an xz file read
// from the front with a 4 GiB dictionary declared): ErrTooLarge or a
// format error, with the peak of the heap during the call within the limit
// plus 16 MiB, and the same cost whatever the bomb's size.
func advPeakBombCases() []advCase {
	var cases []advCase
	const gib2 = 2 << 30
	for _, b := range []struct {
		name, file string
		make       func(t *testing.T, n int) []byte
		want       advCheck
	}{
		{"gzip bomb whose ISIZE is the limit", "bomb.ko.gz", func(t *testing.T, n int) []byte {
			return advBomb(t, testmod.Gzip, n)
		}, advIs(modprobe.ErrTooLarge)},
		{"zstd bomb without a content size", "bomb.ko.zst", func(t *testing.T, n int) []byte {
			return testmod.ZstdRLEFrame(n, []byte{0x00, 0x38}) // a 128 KiB window
		}, advIs(modprobe.ErrTooLarge)},
		{"zstd bomb with a 4 MiB window", "bomb.ko.zst", func(t *testing.T, n int) []byte {
			return testmod.ZstdRLEFrame(n, []byte{0x00, 12 << 3})
		}, advIs(modprobe.ErrTooLarge)},
		{"zstd bomb stating the limit as its size", "bomb.ko.zst", func(t *testing.T, n int) []byte {
			return testmod.ZstdRLEFrame(n, binary.LittleEndian.AppendUint64([]byte{0xc0, 0x38}, advBombLimit))
		}, advText("zstd", "past the frame's content size")},
		{"xz bomb read from the front with a 4 GiB dictionary", "bomb.ko.xz", func(t *testing.T, n int) []byte {
			return append(testmod.XZBigDict(t, advBomb(t, testmod.Xz, n)), 0)
		}, advIs(modprobe.ErrTooLarge)},
	} {
		cases = append(cases, advCase{
			name: fmt.Sprintf("2 GiB %s: peak heap", b.name), category: "compress", size: gib2, pilot: true,
			setup: func(t *testing.T, n int) *advEnv {
				e := advTree(t)
				e.writeFile(t, "kernel/"+b.file, string(b.make(t, n)))
				return e
			},
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				return advPeakWithin(advBombLimit+16<<20, func() error {
					_, err := modprobe.ReadModuleFile(filepath.Join(e.dir, "kernel", b.file), advBombLimit)
					return err
				})
			},
			want: b.want,
		})
	}
	return cases
}

// advPeakWithin runs f and returns its error, or an error when the heap
// grew more than bound bytes while it ran.
func advPeakWithin(bound uint64, f func() error) error {
	var err error
	if grown := memtest.PeakHeap(func() { err = f() }); grown > bound {
		return fmt.Errorf("the heap grew by %d MiB, over %d MiB (%v)", grown>>20, bound>>20, err)
	}
	return err
}
