package modfile

import (
	"fmt"
	"io"
)

// LZMA2 (the xz format's filter 0x21) is a sequence of chunks, each
// introduced by a control byte:
//
//	0x00                  end of the data
//	0x01 U U              uncompressed chunk, dictionary reset
//	0x02 U U              uncompressed chunk
//	0x80-0xff u U U C C [P] LZMA chunk; bits 5-6: 0 nothing reset,
//	                      1 state reset, 2 state reset and new
//	                      properties P, 3 those and a dictionary reset
//
// U is the uncompressed size minus one (big-endian; an LZMA chunk adds
// the control byte's low five bits above it, up to 2 MiB), C the
// compressed size minus one (up to 64 KiB). The first chunk resets the
// dictionary, and an LZMA chunk after a dictionary reset sets the
// properties.

const (
	lzma2MaxChunk      = 1 << 21 // uncompressed bytes of an LZMA chunk
	lzma2MaxCompressed = 1 << 16 // compressed bytes of a chunk
)

// lzWindow is where LZMA2 decodes to: buf[lo:pos] is the dictionary.
// With out nil, buf is the whole output of a block (the decoder writes
// straight into it, and a chunk that does not fit is corrupt); otherwise
// buf is a window that is flushed to out and slid to its last keep bytes
// when a chunk does not fit.
type lzWindow struct {
	buf       []byte
	pos       int
	lo        int // oldest byte of the dictionary in buf
	dictStart int // where the dictionary was last reset (lo or less)
	dictSize  uint32
	out       *output
	flushed   int // buf[flushed:pos] is not yet written to out
	keep      int
	overflow  error // what a chunk that does not fit after sliding is
}

// reset empties the dictionary.
func (w *lzWindow) reset() { w.lo, w.dictStart = w.pos, w.pos }

// reserve makes room for n more bytes.
func (w *lzWindow) reserve(n int) error {
	if w.pos+n <= len(w.buf) {
		return nil
	}
	if w.out == nil {
		return fmt.Errorf("%w: block larger than the index says", errXZData)
	}
	if err := w.flush(); err != nil {
		return err
	}
	shift := max(w.pos-w.keep, 0)
	copy(w.buf, w.buf[shift:w.pos])
	w.pos -= shift
	w.flushed = w.pos
	w.lo = max(w.lo-shift, 0)
	w.dictStart -= shift
	if w.pos+n > len(w.buf) {
		return w.overflow
	}
	return nil
}

// flush writes what was decoded since the last flush to out.
func (w *lzWindow) flush() error {
	if w.out == nil {
		return nil
	}
	err := w.out.write(w.buf[w.flushed:w.pos])
	w.flushed = w.pos
	return err
}

// lzma2Decoder decodes LZMA2 data; one is reused for many blocks.
type lzma2Decoder struct {
	lzma lzmaState
	in   chunkInput
}

// decode decodes the LZMA2 data next in src into w, up to and including
// its end marker.
func (d *lzma2Decoder) decode(src *source, w *lzWindow) error {
	needDictReset, needProps := true, true
	for {
		control, err := src.ReadByte()
		if err != nil {
			return fmt.Errorf("xz: %w", noEOF(err))
		}
		if control == 0x00 {
			return nil
		}
		if control >= 0xe0 || control == 0x01 {
			needProps, needDictReset = true, false
			w.reset()
		} else if needDictReset {
			return fmt.Errorf("%w: LZMA2 data does not start with a dictionary reset", errXZData)
		}
		if control < 0x80 {
			if control > 0x02 {
				return fmt.Errorf("%w: bad LZMA2 control byte 0x%02x", errXZData, control)
			}
			h := src.peek(2)
			if len(h) < 2 {
				return fmt.Errorf("xz: %w", io.ErrUnexpectedEOF)
			}
			n := int(h[0])<<8 | int(h[1]) + 1
			src.i += 2
			if err := w.reserve(n); err != nil {
				return err
			}
			if err := src.readFull(w.buf[w.pos : w.pos+n]); err != nil {
				return fmt.Errorf("xz: %w", noEOF(err))
			}
			w.pos += n
			continue
		}
		hlen := 4
		if control >= 0xc0 {
			hlen = 5
		}
		h := src.peek(hlen)
		if len(h) < hlen {
			return fmt.Errorf("xz: %w", io.ErrUnexpectedEOF)
		}
		usize := int(control&0x1f)<<16 | int(h[0])<<8 | int(h[1]) + 1
		csize := int(h[2])<<8 | int(h[3]) + 1
		switch control >> 5 & 3 {
		case 3, 2:
			if err := d.lzma.setProps(h[4]); err != nil {
				return err
			}
			needProps = false
			d.lzma.reset()
		case 1:
			if needProps {
				return fmt.Errorf("%w: LZMA2 chunk without properties", errXZData)
			}
			d.lzma.reset()
		default:
			if needProps {
				return fmt.Errorf("%w: LZMA2 chunk without properties", errXZData)
			}
		}
		src.i += hlen
		if err := w.reserve(usize); err != nil {
			return err
		}
		if err := src.readFull(d.in[:csize]); err != nil {
			return fmt.Errorf("xz: %w", noEOF(err))
		}
		if err := d.lzma.decodeChunk(&d.in, csize, w.buf, w.pos, w.pos+usize, w.lo, w.dictStart, w.dictSize); err != nil {
			return err
		}
		w.pos += usize
	}
}
