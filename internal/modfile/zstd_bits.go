package modfile

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// errZstdBitstream is a backward bitstream that is empty, lacks its end
// marker, or is not consumed exactly.
var errZstdBitstream = errors.New("corrupt bitstream")

// zstdBits reads a zstd backward bitstream (RFC 8878, 4.1): written
// forward, read from its last byte back, whose highest set bit marks
// where the data starts. value holds the 8 bytes at in[off:], read from
// the top; used counts the bits of value consumed. Reading past the
// start yields zeros, which the caller detects with done or overread,
// once, after its loop: the hot loops carry no per-read checks.
type zstdBits struct {
	in    []byte
	off   int
	value uint64
	used  uint
	// end is used when every bit is consumed and off is 0: 64, or
	// 8*len(in) for an input shorter than 8 bytes.
	end uint
}

// init starts reading in from its end.
func (b *zstdBits) init(in []byte) error {
	if len(in) == 0 || in[len(in)-1] == 0 {
		return errZstdBitstream
	}
	b.in = in
	skip := uint(9 - bits.Len8(in[len(in)-1]))
	if len(in) >= 8 {
		b.off = len(in) - 8
		b.value = binary.LittleEndian.Uint64(in[b.off:])
		b.end = 64
	} else {
		var v uint64
		for i, c := range in {
			v |= uint64(c) << (8 * i)
		}
		b.off = 0
		b.value = v << (64 - 8*uint(len(in)))
		b.end = 8 * uint(len(in))
	}
	b.used = skip
	return nil
}

// fill reloads value so that at least 57 bits are unread, or all that
// are left.
func (b *zstdBits) fill() { b.value, b.used, b.off = bitsRefill(b.in, b.value, b.used, b.off) }

// get returns the next n bits (n <= 56 after fill, fewer as bits are
// used; 0 is allowed).
func (b *zstdBits) get(n uint8) uint64 {
	v := bitsPeek(b.value, b.used, n)
	b.used += uint(n)
	return v
}

// bitsRefill is fill on a reader's state held in variables: value
// holding in[off:off+8], used bits of it consumed.
func bitsRefill(in []byte, value uint64, used uint, off int) (uint64, uint, int) {
	if off == 0 {
		return value, used, off
	}
	step := min(int(used>>3), off)
	off -= step
	return binary.LittleEndian.Uint64(in[off:]), used - uint(step)*8, off
}

// bitsPeek returns the n bits of value after the first used.
func bitsPeek(value uint64, used uint, n uint8) uint64 {
	return value << (used & 63) >> 1 >> ((63 - n) & 63)
}

// done reports whether every bit was read, no more.
func (b *zstdBits) done() bool { return b.off == 0 && b.used == b.end }

// overread reports whether more bits were read than the stream has.
func (b *zstdBits) overread() bool { return b.off == 0 && b.used > b.end }
