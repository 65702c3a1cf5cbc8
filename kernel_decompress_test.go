package modprobe

import (
	"bytes"
	"hash/crc32"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe/internal/modfile"
	"github.com/gokmod/modprobe/internal/testmod"
)

// TestKernelDecompressFailure: the decompressor's own lines, as
// kernel/module/decompress.c prints them (5.17 to current mainline, and the Debian 13
// 6.12 image), are recognised for the kernel's format only, and nothing
// a module prints is.
func TestKernelDecompressFailure(t *testing.T) {
	lines := map[modfile.Compression][]string{
		modfile.Gzip: {"not a gzip compressed module", "failed to initialize decompressor: -2", "decompression failed with status -3"},
		modfile.XZ:   {"not an xz compressed module", "decompression failed with status 6", "decompression failed with status 0"},
		modfile.Zstd: {"not a zstd compressed module", "ZSTD-compressed data has an incomplete frame header",
			"ZSTD-compressed data has too large a window size", "ZSTD-decompression failed with status 20"},
	}
	for comp, own := range lines {
		for other, theirs := range lines {
			for _, m := range theirs {
				want := other == comp || comp != modfile.Zstd && other != modfile.Zstd && strings.HasPrefix(m, "decompression failed")
				if got := kernelDecompressFailure(comp, m); got != want {
					t.Errorf("%v kernel, %q: %v, want %v", comp, m, got, want)
				}
			}
		}
		for _, m := range own {
			for _, bad := range []string{"bonding: " + m, "module " + m, m + " ", m + "x"} {
				if kernelDecompressFailure(comp, bad) {
					t.Errorf("%v kernel: %q taken for the decompressor's line", comp, bad)
				}
			}
		}
	}
	for _, m := range []string{"", "decompression failed with status ", "decompression failed with status six", "bonding: Invalid bonding mode \"bogus\""} {
		if kernelDecompressFailure(modfile.XZ, m) || kernelDecompressFailure(modfile.None, "not an xz compressed module") {
			t.Errorf("%q taken for the decompressor's line", m)
		}
	}
}

// TestKernelRefusal: what the kernel's decompressor is known to refuse,
// read from the file's header.
func TestKernelRefusal(t *testing.T) {
	img, err := (&testmod.Module{Name: "m"}).ELF()
	if err != nil {
		t.Fatal(err)
	}
	// gzip headers: ID1 ID2 CM FLG, then MTIME, XFL, OS; only FLG matters.
	gz := func(flags byte) []byte { return []byte{0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3} }
	xzCorrupt := testmod.MustCompress(t, img, testmod.XzCRC64)
	xzCorrupt[9] ^= 1 // the stream header's CRC32 no longer matches
	for _, tc := range []struct {
		name   string
		comp   modfile.Compression
		data   []byte
		refuse string // a word of the reason; "" for none
	}{
		{"xz-crc32", modfile.XZ, testmod.MustCompress(t, img, testmod.Xz), ""},
		{"xz-none", modfile.XZ, testmod.MustCompress(t, img, testmod.XzNoCheck), ""},
		{"xz-crc64", modfile.XZ, testmod.MustCompress(t, img, testmod.XzCRC64), "CRC64"},
		{"xz-sha256", modfile.XZ, testmod.MustCompress(t, img, testmod.XzSHA256), "SHA-256"},
		{"xz-reserved", modfile.XZ, xzWithCheck(t, testmod.MustCompress(t, img, testmod.Xz), 0x02), "Unknown-2"},
		{"xz-corrupt-header", modfile.XZ, xzCorrupt, ""},
		{"xz-short", modfile.XZ, []byte("\xfd7zXZ\x00"), ""},
		{"gzip", modfile.Gzip, testmod.MustCompress(t, img, testmod.Gzip), ""},
		{"gzip-name-text", modfile.Gzip, gz(0x08 | 0x01), ""},
		{"gzip-extra", modfile.Gzip, gz(0x04), "FEXTRA"},
		{"gzip-comment", modfile.Gzip, gz(0x10 | 0x08), "0x10"},
		{"gzip-hcrc", modfile.Gzip, gz(0x02), "0x02"},
		{"gzip-short", modfile.Gzip, []byte{0x1f, 0x8b, 8}, ""},
		{"zstd", modfile.Zstd, testmod.MustCompress(t, img, testmod.Zstd), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := kernelRefusal(bytes.NewReader(tc.data), tc.comp)
			if tc.refuse == "" && got != "" || tc.refuse != "" && !strings.Contains(got, tc.refuse) {
				t.Errorf("kernelRefusal = %q, want %q", got, tc.refuse)
			}
		})
	}
}

// xzWithCheck returns the xz file data with its stream header naming
// check id instead, its CRC32 fixed: only the header is read.
func xzWithCheck(t *testing.T, data []byte, id byte) []byte {
	t.Helper()
	out := bytes.Clone(data)
	out[7] = id
	sum := crc32.ChecksumIEEE(out[6:8])
	out[8], out[9], out[10], out[11] = byte(sum), byte(sum>>8), byte(sum>>16), byte(sum>>24)
	return out
}

// TestCompressedOffers: a decompression failure line is credited to an
// offer only when no other offer in flight with it could have logged it.
func TestCompressedOffers(t *testing.T) {
	var s compressedOffers
	einval := syscall.EINVAL

	// alone
	a := s.begin()
	if n := s.end(a, einval); n != 0 {
		t.Errorf("a lone offer has %d rivals", n)
	}

	// b and c overlap; c ends first, while b is in flight
	b := s.begin()
	c := s.begin()
	if n := s.end(c, einval); n != 1 {
		t.Errorf("c: %d rivals, want 1 (b in flight)", n)
	}
	// b ends after c's EINVAL: c may have logged
	if n := s.end(b, nil); n != 1 {
		t.Errorf("b: %d rivals, want 1 (c ended with EINVAL)", n)
	}

	// d overlaps e, which loaded its module: no rival once e is done
	d := s.begin()
	e := s.begin()
	if n := s.end(e, nil); n != 1 {
		t.Errorf("e: %d rivals, want 1 (d in flight)", n)
	}
	if n := s.end(d, einval); n != 0 {
		t.Errorf("d: %d rivals, want 0 (e ended without EINVAL)", n)
	}

	// f starts after everything ended: no rival
	f := s.begin()
	if n := s.end(f, einval); n != 0 {
		t.Errorf("f: %d rivals, want 0", n)
	}
	if len(s.inFlight) != 0 {
		t.Errorf("%d offers still in flight", len(s.inFlight))
	}
	for _, o := range []*compressedOffer{a, b, c, d, e, f} {
		if o.others != nil {
			t.Errorf("an ended offer keeps %d others", len(o.others))
		}
	}
}
