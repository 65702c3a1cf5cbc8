package modfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// zstdBlockMax is the largest block zstd allows, compressed or not.
const zstdBlockMax = 128 << 10

// zstdHeaderMax is the longest frame header: magic, descriptor, window
// descriptor, dictionary ID and content size.
const zstdHeaderMax = 4 + 1 + 1 + 4 + 8

// errZstdOverrun is a block that writes past its frame's content size or
// the block size limit.
var errZstdOverrun = errors.New("block output past its bound")

// zstdHeader is a frame header (RFC 8878, 3.1.1.1), or a skippable
// frame's (3.1.2).
type zstdHeader struct {
	size      int   // bytes of header, magic included
	skippable bool  // a skippable frame, skip bytes follow the header
	skip      int64 //
	hasFCS    bool
	fcs       uint64 // frame content size
	window    uint64 // window size: the content size in a single segment
	checksum  bool
}

// parseZstdHeader reads the frame header at the front of b.
func parseZstdHeader(b []byte) (zstdHeader, error) {
	var h zstdHeader
	if len(b) < 4 {
		return h, io.ErrUnexpectedEOF
	}
	magic := binary.LittleEndian.Uint32(b)
	if magic&0xfffffff0 == 0x184d2a50 {
		if len(b) < 8 {
			return h, io.ErrUnexpectedEOF
		}
		h.size, h.skippable, h.skip = 8, true, int64(binary.LittleEndian.Uint32(b[4:]))
		return h, nil
	}
	if magic != 0xfd2fb528 {
		return h, fmt.Errorf("not a zstd frame: magic %08x", magic)
	}
	if len(b) < 5 {
		return h, io.ErrUnexpectedEOF
	}
	fhd := b[4]
	if fhd&0x08 != 0 {
		return h, errors.New("reserved bit set in the frame header")
	}
	single := fhd&0x20 != 0
	h.checksum = fhd&0x04 != 0
	didSize := [4]int{0, 1, 2, 4}[fhd&3]
	fcsSize := [4]int{0, 2, 4, 8}[fhd>>6]
	if fcsSize == 0 && single {
		fcsSize = 1
	}
	h.size = 5 + didSize + fcsSize
	if !single {
		h.size++
	}
	if len(b) < h.size {
		return h, io.ErrUnexpectedEOF
	}
	p := 5
	if !single {
		wd := b[p]
		p++
		base := uint64(1) << (10 + wd>>3)
		h.window = base + base/8*uint64(wd&7)
	}
	var did uint32
	switch didSize {
	case 1:
		did = uint32(b[p])
	case 2:
		did = uint32(binary.LittleEndian.Uint16(b[p:]))
	case 4:
		did = binary.LittleEndian.Uint32(b[p:])
	}
	p += didSize
	if did != 0 {
		return h, fmt.Errorf("the frame needs dictionary %d: dictionaries are not supported (kbuild never uses one)", did)
	}
	h.hasFCS = fcsSize > 0
	switch fcsSize {
	case 1:
		h.fcs = uint64(b[p])
	case 2:
		h.fcs = uint64(binary.LittleEndian.Uint16(b[p:])) + 256
	case 4:
		h.fcs = uint64(binary.LittleEndian.Uint32(b[p:]))
	case 8:
		h.fcs = binary.LittleEndian.Uint64(b[p:])
	}
	if single {
		h.window = h.fcs
	}
	if h.window > zstdMaxWindow && !single {
		return h, fmt.Errorf("window of %d bytes over the limit of %d", h.window, zstdMaxWindow)
	}
	return h, nil
}

// zstdOut is where frames are decoded to. buf[:pos] is the output in
// buf; buf is the output, of its planned size, or, when counting, a
// window that slides, keeping what the frame's matches may reach.
type zstdOut struct {
	buf []byte
	pos int
	// counting: only the size is wanted; the buffer may grow to grow
	// bytes, and dropped bytes were slid out of it.
	counting bool
	grow     int
	dropped  int64
	limit    int64
}

// zstdDecoder decodes zstd frames. Its tables outlive a block: a block
// may repeat the previous one's.
type zstdDecoder struct {
	window     int
	rep        [3]int
	hufOK      bool
	huf        hufTable
	ll, of, ml seqTable
	weights    [256]uint8
	norm       [zstdFSEMaxSymbols]int16
	fseScratch [512]fseEntry
	litBuf     []byte
}

// decodeFrames decodes every frame of src into o.
func (d *zstdDecoder) decodeFrames(src *source, size int64, o *zstdOut) error {
	for src.pos() < size {
		at := src.pos()
		h, err := parseZstdHeader(src.peek(zstdHeaderMax))
		if err != nil {
			return fmt.Errorf("frame at byte %d: %w", at, err)
		}
		if err := src.discard(int64(h.size)); err != nil {
			return fmt.Errorf("frame at byte %d: %w", at, err)
		}
		if h.skippable {
			if err := src.discard(h.skip); err != nil {
				return fmt.Errorf("skippable frame at byte %d: %w", at, err)
			}
			continue
		}
		if err := d.frame(src, h, o); err != nil {
			return fmt.Errorf("frame at byte %d: %w", at, err)
		}
	}
	return nil
}

// frame decodes the blocks of one frame, after its header h.
func (d *zstdDecoder) frame(src *source, h zstdHeader, o *zstdOut) error {
	d.rep = [3]int{1, 4, 8}
	d.hufOK, d.ll.ok, d.of.ok, d.ml.ok = false, false, false, false
	d.window = int(min(h.window, zstdMaxWindow))
	blockMax := min(d.window, zstdBlockMax)
	if o.counting {
		// Earlier frames' output is out of reach.
		o.dropped += int64(o.pos)
		o.pos = 0
	}
	start := o.pos
	var produced int64 // in this frame
	for last := false; !last; {
		at := src.pos()
		b := src.peek(3)
		if len(b) < 3 {
			return io.ErrUnexpectedEOF
		}
		bh := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
		last = bh&1 != 0
		typ, n := bh>>1&3, bh>>3
		if err := src.discard(3); err != nil {
			return err
		}
		if o.counting {
			start = o.room(start, d.window)
		}
		end := min(o.pos+blockMax, len(o.buf))
		if h.hasFCS {
			if left := h.fcs - uint64(produced); left < uint64(end-o.pos) {
				end = o.pos + int(left)
			}
		}
		var err error
		pos := o.pos
		switch typ {
		case 0: // raw
			if n > blockMax {
				err = fmt.Errorf("raw block of %d bytes over %d", n, blockMax)
				break
			}
			in := src.peek(n)
			if len(in) < n {
				return io.ErrUnexpectedEOF
			}
			if n > end-pos {
				err = errZstdOverrun
				break
			}
			pos += copy(o.buf[pos:end], in)
			err = src.discard(int64(n))
		case 1: // RLE
			if n > blockMax {
				err = fmt.Errorf("RLE block of %d bytes over %d", n, blockMax)
				break
			}
			in := src.peek(1)
			if len(in) < 1 {
				return io.ErrUnexpectedEOF
			}
			if n > end-pos {
				err = errZstdOverrun
				break
			}
			c := in[0]
			fill := o.buf[pos : pos+n]
			for i := range fill {
				fill[i] = c
			}
			pos += n
			err = src.discard(1)
		case 2: // compressed
			if n > blockMax {
				err = fmt.Errorf("compressed block of %d bytes over %d", n, blockMax)
				break
			}
			in := src.peek(n)
			if len(in) < n {
				return io.ErrUnexpectedEOF
			}
			pos, err = d.block(in, o.buf, pos, start, end, blockMax)
			if err == nil {
				err = src.discard(int64(n))
			}
		default:
			err = errors.New("reserved block type")
		}
		if errors.Is(err, errZstdOverrun) {
			switch {
			case h.hasFCS && end-o.pos == int(h.fcs-uint64(produced)):
				err = fmt.Errorf("output past the frame's content size of %d bytes", h.fcs)
			case end-o.pos < blockMax && !o.counting:
				err = errors.New("output past the size planned for it: the file changed")
			default:
				err = fmt.Errorf("block output over %d bytes", blockMax)
			}
		}
		if err != nil {
			return fmt.Errorf("block at byte %d: %w", at, err)
		}
		produced += int64(pos - o.pos)
		o.pos = pos
		if o.counting && o.dropped+int64(o.pos) > o.limit {
			return tooLarge(Zstd, o.limit)
		}
	}
	if h.hasFCS && uint64(produced) != h.fcs {
		return fmt.Errorf("%d bytes of output, the frame states %d", produced, h.fcs)
	}
	if h.checksum {
		at := src.pos()
		b := src.peek(4)
		if len(b) < 4 {
			return io.ErrUnexpectedEOF
		}
		want := binary.LittleEndian.Uint32(b)
		if !o.counting {
			if got := uint32(xxhash64(o.buf[start:o.pos])); got != want {
				return fmt.Errorf("content checksum at byte %d: %08x, computed %08x", at, want, got)
			}
		}
		return src.discard(4)
	}
	return nil
}

// block decodes a compressed block (RFC 8878, 3.1.1.3) into out from pos
// on, writing no further than end; out[start:pos] is the frame's output
// so far.
func (d *zstdDecoder) block(in, out []byte, pos, start, end, blockMax int) (int, error) {
	lits, rest, err := d.literals(in, blockMax)
	if err != nil {
		return 0, err
	}
	return d.sequences(rest, lits, out, pos, start, end)
}

// zstdGrowStep is the size up to which a counting buffer doubles; past it
// it grows to its bound at once, so that the old and new buffers held
// while growing stay within the bound plus this.
const zstdGrowStep = 4 << 20

// room makes room for a block in a counting output: it grows the buffer
// up to o.grow, and to no more than the frame's window and two blocks,
// else slides out all but the last window bytes of the frame, which
// starts at start. It returns where the frame now starts.
func (o *zstdOut) room(start, window int) int {
	if len(o.buf)-o.pos >= zstdBlockMax {
		return start
	}
	if bound := min(o.grow, window+2*zstdBlockMax); len(o.buf) < bound {
		n := max(2*len(o.buf), 256<<10)
		if n > zstdGrowStep {
			n = bound
		}
		buf := make([]byte, min(n, bound))
		copy(buf, o.buf[:o.pos])
		o.buf = buf
		if len(o.buf)-o.pos >= zstdBlockMax {
			return start
		}
	}
	keep := min(o.pos-start, window)
	drop := o.pos - keep
	copy(o.buf, o.buf[drop:o.pos])
	o.dropped += int64(drop)
	o.pos = keep
	return max(start-drop, 0)
}

// litSpace returns a buffer for n literals (n <= zstdBlockMax), with 16
// bytes or more beyond them for copies of 16 bytes. It grows to powers of
// two: a small module's blocks need far less than the largest block.
func (d *zstdDecoder) litSpace(n int) []byte {
	if cap(d.litBuf) < n+16 {
		d.litBuf = make([]byte, max(4<<10, 1<<bits.Len(uint(n+15))))
	}
	return d.litBuf[:n]
}

// count returns the bytes output so far.
func (o *zstdOut) count() int64 { return o.dropped + int64(o.pos) }
