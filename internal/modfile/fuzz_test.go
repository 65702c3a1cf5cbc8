package modfile

import (
	"bytes"
	"debug/elf"
	"errors"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// fuzzBigLimit is the output limit the decompression targets treat as
// unlimited: far above what a fuzzed input of a few kilobytes expands to
// in a few milliseconds, yet small enough to keep each run cheap.
const fuzzBigLimit = 4 << 20

// wantSniff restates libkmod's magic table for sniffCompression.
func wantSniff(b []byte) Compression {
	switch {
	case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Zstd
	case bytes.HasPrefix(b, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return XZ
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return Gzip
	}
	return None
}

// decompressOf runs decompress on file with the compression its magic
// gives, checking the contract every call must keep: an error comes with
// no output, and the output is never over the limit.
func decompressOf(t *testing.T, file []byte, limit int64) ([]byte, error) {
	t.Helper()
	c := Sniff(file)
	out, err := Decompress(bytes.NewReader(file), int64(len(file)), c, limit)
	if err != nil && out != nil {
		t.Fatalf("%v, limit %d: %d bytes of output with the error %v", c, limit, len(out), err)
	}
	if int64(len(out)) > limit {
		t.Fatalf("%v: %d bytes of output over the limit %d", c, len(out), limit)
	}
	return out, err
}

// FuzzDecompressLimit reads arbitrary bytes as a module file twice, with a
// generous limit and with a small one, and checks that the limit is the
// only difference: the format is the one the magic table gives; output
// that fits in the small limit is decoded identically under both; output
// over it fails with ErrTooLarge under the small one; an input that fails
// for another reason under the generous limit is not accepted under the
// small one. For xz, the layout-driven decoder (parallel blocks) and the
// streaming decoder must agree.
func FuzzDecompressLimit(f *testing.F) {
	data := []byte("\x7fELF\x02\x01\x01 module text module text module text 0123456789")
	long := bytes.Repeat(data, 40)
	for _, s := range [][]byte{
		testmod.MustCompress(f, data, testmod.Gzip),
		testmod.MustCompress(f, long, testmod.Xz),
		testmod.MustCompress(f, data, testmod.XzCRC64),
		testmod.MustCompress(f, long, testmod.Zstd),
		xzWriter(f, long, xz.WriterConfig{CheckSum: xz.SHA256, BlockSize: 512}),
		xzWriter(f, data, xz.WriterConfig{NoCheckSum: true}),
		zstdStream(f, long),
		zstdStream(f, data, zstd.WithSingleSegment(true), zstd.WithEncoderCRC(false)),
		append(testmod.MustCompress(f, data, testmod.Gzip), "garbage after the member"...),
		append(append(testmod.MustCompress(f, data, testmod.Xz), 0, 0, 0, 0), testmod.MustCompress(f, long, testmod.Xz)...),
		append(testmod.MustCompress(f, data, testmod.Zstd), testmod.MustCompress(f, nil, testmod.Zstd)...),
		data,
	} {
		f.Add(s, uint16(len(long)-1))
		f.Add(s, uint16(0))
	}
	f.Fuzz(func(t *testing.T, file []byte, small uint16) {
		c := Sniff(file)
		if w := wantSniff(file); c != w {
			t.Fatalf("sniffCompression(% x) = %v, want %v", file[:min(len(file), 6)], c, w)
		}
		if _, ok := ParseCompression(c.String() + "\n"); ok != (c != None) {
			t.Fatalf("parseCompression(%q) = %v", c.String()+"\n", ok)
		}
		limit := int64(small)
		big, bigErr := decompressOf(t, file, fuzzBigLimit)
		out, err := decompressOf(t, file, limit)
		switch {
		case bigErr == nil && int64(len(big)) <= limit:
			if err != nil || !bytes.Equal(out, big) {
				t.Fatalf("%v: %d bytes under limit %d, but limit %d gave %d bytes, %v", c, len(big), fuzzBigLimit, limit, len(out), err)
			}
		case bigErr == nil:
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%v: %d bytes of output, but limit %d gave %d bytes, %v; want ErrTooLarge", c, len(big), limit, len(out), err)
			}
		case !errors.Is(bigErr, ErrTooLarge):
			if err == nil {
				t.Fatalf("%v: limit %d gave %d bytes, limit %d failed: %v", c, limit, len(out), fuzzBigLimit, bigErr)
			}
		default: // over the generous limit, so over the small one
			if err == nil {
				t.Fatalf("%v: limit %d gave %d bytes; limit %d: %v", c, limit, len(out), fuzzBigLimit, bigErr)
			}
		}
		if c == XZ {
			stream, serr := xzStreamed(bytes.NewReader(file), int64(len(file)), fuzzBigLimit)
			if (serr == nil) != (bigErr == nil) || !bytes.Equal(stream, big) {
				t.Fatalf("xz: decompress gave %d bytes, %v; the streaming decoder %d bytes, %v", len(big), bigErr, len(stream), serr)
			}
		}
	})
}

// fuzzZstd is the zstd encoder of FuzzDecompressRoundTrip, made once:
// making one per input would cost more than the rest of the work.
var fuzzZstd, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true))

// fuzzCompressions are the formats FuzzDecompressRoundTrip writes, with
// small dictionaries to keep each input cheap: gzip; xz with a CRC32, a
// CRC64 or no check, in one block or in blocks of 1 KiB (xz -T's layout);
// zstd with a content checksum, in one frame or two.
var fuzzCompressions = []struct {
	name string
	want Compression
	enc  func(t *testing.T, b []byte) []byte
}{
	{"gzip", Gzip, func(t *testing.T, b []byte) []byte { return testmod.MustCompress(t, b, testmod.Gzip) }},
	{"xz-crc32", XZ, func(t *testing.T, b []byte) []byte {
		return xzWriter(t, b, xz.WriterConfig{CheckSum: xz.CRC32, DictCap: 1 << 16})
	}},
	{"xz-crc64-blocks", XZ, func(t *testing.T, b []byte) []byte {
		return xzWriter(t, b, xz.WriterConfig{CheckSum: xz.CRC64, DictCap: 1 << 16, BlockSize: 1 << 10})
	}},
	{"xz-none", XZ, func(t *testing.T, b []byte) []byte {
		return xzWriter(t, b, xz.WriterConfig{NoCheckSum: true, DictCap: 1 << 16})
	}},
	{"zstd", Zstd, func(t *testing.T, b []byte) []byte { return fuzzZstd.EncodeAll(b, nil) }},
	{"zstd-2", Zstd, func(t *testing.T, b []byte) []byte {
		return fuzzZstd.EncodeAll(b[len(b)/2:], fuzzZstd.EncodeAll(b[:len(b)/2], nil))
	}},
}

// FuzzDecompressRoundTrip compresses arbitrary bytes in each format a
// module file may have and checks that the file is sniffed as that format
// and decodes to the bytes exactly at a limit of their size and fails with
// ErrTooLarge one byte below; that every truncation of the file is an
// error; and that a corrupted byte never panics nor breaks the limit.
func FuzzDecompressRoundTrip(f *testing.F) {
	f.Add([]byte{}, uint8(0), uint16(0), uint16(0), uint8(0))
	f.Add([]byte("\x7fELF\x02\x01\x01 module text"), uint8(1), uint16(10), uint16(7), uint8(0x55))
	f.Add(bytes.Repeat([]byte("abcdefgh"), 600), uint8(2), uint16(900), uint16(300), uint8(1))
	f.Add(bytes.Repeat([]byte{0}, 5000), uint8(3), uint16(20), uint16(21), uint8(0x80))
	f.Fuzz(func(t *testing.T, payload []byte, format uint8, cut, at uint16, flip uint8) {
		fc := fuzzCompressions[int(format)%len(fuzzCompressions)]
		file := fc.enc(t, payload)
		if c := Sniff(file); c != fc.want {
			t.Fatalf("%s file sniffed as %v", fc.name, c)
		}
		n := int64(len(payload))
		out, err := decompressOf(t, file, n)
		if err != nil || !bytes.Equal(out, payload) {
			t.Fatalf("%s: limit %d: %d bytes, %v; want the %d bytes back", fc.name, n, len(out), err, n)
		}
		if fc.want == XZ {
			out, err := xzStreamed(bytes.NewReader(file), int64(len(file)), n)
			if err != nil || !bytes.Equal(out, payload) {
				t.Fatalf("%s streaming: %d bytes, %v; want the %d bytes back", fc.name, len(out), err, n)
			}
		}
		if n > 0 {
			if _, err := decompressOf(t, file, n-1); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%s: limit %d for %d bytes: %v, want ErrTooLarge", fc.name, n-1, n, err)
			}
		}
		// A truncated file that still has its magic must fail.
		trunc := file[:int(cut)%len(file)]
		if Sniff(trunc) == fc.want {
			// Only cutting two zstd frames apart leaves a whole file.
			out, err := decompressOf(t, trunc, n+1)
			if err == nil && (fc.name != "zstd-2" || !bytes.Equal(out, payload[:len(payload)/2])) {
				t.Fatalf("%s: the first %d of %d bytes decoded to %d bytes", fc.name, len(trunc), len(file), len(out))
			}
		}
		if flip != 0 {
			bad := bytes.Clone(file)
			bad[int(at)%len(bad)] ^= flip
			decompressOf(t, bad, n+64)
		}
	})
}

// FuzzStrip runs the edits of --force-modversion and --force-vermagic on
// arbitrary bytes: on an error the image is left untouched; otherwise
// stripModversions clears exactly the SHF_ALLOC bit of one byte and
// stripVermagic blanks exactly one whole "vermagic=..." string.
func FuzzStrip(f *testing.F) {
	for _, c := range []testmod.Class{testmod.ELF64LSB, testmod.ELF64MSB, testmod.ELF32LSB, testmod.ELF32MSB} {
		img, err := (&testmod.Module{
			Name:     "strip",
			ModInfo:  testmod.StandardModInfo("strip", testmod.DefaultVermagic("6.1.0-test")),
			Uses:     []string{"printk"},
			Versions: []testmod.VersionEntry{{CRC: 1, Name: "module_layout"}, {CRC: 2, Name: "printk"}},
			Class:    c,
		}).ELF()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(img)
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, image []byte) {
		img := bytes.Clone(image)
		if err := StripModversions(img); err != nil {
			if !bytes.Equal(img, image) {
				t.Fatalf("stripModversions failed (%v) but changed the image", err)
			}
		} else {
			var diff []int
			for i := range img {
				if img[i] != image[i] {
					diff = append(diff, i)
				}
			}
			if len(diff) > 1 || len(diff) == 1 && img[diff[0]] != image[diff[0]]&^byte(elf.SHF_ALLOC) {
				t.Fatalf("stripModversions changed bytes %v", diff)
			}
		}

		img = bytes.Clone(image)
		if err := StripVermagic(img); err != nil {
			if !bytes.Equal(img, image) {
				t.Fatalf("stripVermagic failed (%v) but changed the image", err)
			}
			return
		}
		first, last := -1, -1
		for i := range img {
			if img[i] != image[i] {
				if img[i] != 0 || first >= 0 && i != last+1 {
					t.Fatalf("stripVermagic wrote %#x at %d (changed %d..%d before)", img[i], i, first, last)
				}
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		if first < 0 || last-first+1 < len("vermagic=") || !bytes.HasPrefix(image[first:], []byte("vermagic=")) {
			t.Fatalf("stripVermagic succeeded but blanked bytes %d..%d, not a vermagic= string", first, last)
		}
	})
}
