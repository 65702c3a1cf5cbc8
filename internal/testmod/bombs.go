package testmod

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// MustCompress returns data compressed as c, failing tb on an error.
func MustCompress(tb testing.TB, data []byte, c Compression) []byte {
	tb.Helper()
	b, err := Compress(data, c)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// ZstdRLEFrame returns a zstd frame with the given frame header
// descriptor and what follows it, of total bytes of zeros in 128 KiB RLE
// blocks: a bomb, a few bytes per 128 KiB of output.
func ZstdRLEFrame(total int, header []byte) []byte {
	const block = 128 << 10
	f := append([]byte{0x28, 0xb5, 0x2f, 0xfd}, header...)
	for i := range total / block {
		h := uint32(block<<3 | 1<<1)
		if i == total/block-1 {
			h |= 1
		}
		f = append(f, byte(h), byte(h>>8), byte(h>>16), 0)
	}
	return f
}

// XZBigDict returns file, xz streams of one block each, with the LZMA2
// dictionary of every block set to 4 GiB in its header (the block
// header's CRC32 recomputed). It fails tb on a block header other than
// kbuild's: one LZMA2 filter.
func XZBigDict(tb testing.TB, file []byte) []byte {
	tb.Helper()
	const (
		headerLen = 12 // the stream header
		lzma2     = 0x21
	)
	magic := []byte("\xfd7zXZ\x00")
	file = bytes.Clone(file)
	for off := 0; off+headerLen < len(file); {
		h := file[off+headerLen:]
		size := (int(h[0]) + 1) * 4
		p := 2
		for _, flag := range []byte{0x40, 0x80} { // compressed, uncompressed size
			if h[1]&flag != 0 {
				_, n := binary.Uvarint(h[p:])
				p += n
			}
		}
		if h[1]&0x03 != 0 || h[p] != lzma2 || h[p+1] != 1 {
			tb.Fatalf("unexpected block header % x", h[:size])
		}
		h[p+2] = 40
		binary.LittleEndian.PutUint32(h[size-4:], crc32.ChecksumIEEE(h[:size-4]))
		next := bytes.Index(file[off+1:], magic)
		if next < 0 {
			break
		}
		off += 1 + next
	}
	return file
}
