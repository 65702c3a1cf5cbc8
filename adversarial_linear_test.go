package modprobe_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/memtest"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/kata"
)

// advLinearCases are the rows of issue 13's "parsers stay linear", all
// piloted at 1/16 and 1/8 of their size:
//
//   - a Kata configuration.toml of MaxConfigSize bytes nested as deep as
//     it goes (inline tables, arrays, a dotted key, a table header): the
//     TOML decoder's work grows with the square of the depth, so
//     kata.ParseConfig refuses it with kata.ErrTooDeep first;
//   - decompression bombs of 2 GiB against MaxModuleSize = 1 MiB, in the
//     forms that made a decoder hold the most (no size stated, a gzip ISIZE
//     of exactly the limit, a zstd window, a zstd content size of the
//     limit that the frame exceeds, an xz file read from the front with a
//     4 GiB dictionary declared): ErrTooLarge or a format error, with the
//     peak of the heap during the call within the limit plus 16 MiB, and
//     the same cost whatever the bomb's size.
//
// modinfo on 100,000 parm= entries is piloted in cmd/gokmod
// (TestModinfoManyParamsLinear), whose command this package cannot run.
func advLinearCases() []advCase {
	parse := func(ctx context.Context, t *testing.T, e *advEnv) error {
		_, err := kata.ParseConfig([]byte(e.input[0]), "configuration.toml")
		return err
	}
	deep := func(prefix, step string) func(n int) []string {
		return func(n int) []string {
			return []string{prefix + strings.Repeat(step, (n-len(prefix))/len(step))}
		}
	}
	var cases []advCase
	for _, c := range []struct{ name, prefix, step string }{
		{"inline tables", "a = ", "{b = "},
		{"arrays", "a = ", "["},
		{"a dotted key", "a", ".b"},
		{"a table header", "[a", ".b"},
		{"a dotted key after a byte-order mark", "\xef\xbb\xbfa", ".b"},
		{"a table header after a UTF-16 byte-order mark", "\xff\xfe[a", ".b"},
	} {
		cases = append(cases, advCase{
			name: "configuration.toml of " + c.name + " nested to the size limit", category: "adapter",
			size: kata.MaxConfigSize, text: true, pilot: true,
			setup: withInput(deep(c.prefix, c.step)), act: parse, want: advIs(kata.ErrTooDeep),
		})
	}
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
