package modfile

import (
	"fmt"
	"io"
	"runtime/debug"
)

// zstdMaxWindow is the largest zstd window accepted: libzstd's default
// ZSTD_WINDOWLOG_LIMIT_DEFAULT (27), which kmod does not change.
const zstdMaxWindow = 1 << 27

// zstdWholeFile is the largest zstd file read into memory at once; a
// larger one is read through a buffer of two blocks.
const zstdWholeFile = 2 << 20

// decompressZstd decodes every frame of a zstd file with the decoder of
// zstd_*.go.
//
// The output buffer is taken once, of the output's size: the sum of the
// frames' content sizes when every frame states its own (as zstd writes a
// file; a frame that differs from its statement is corrupt), or else the
// size counted by decoding the file once without keeping the output (in a
// buffer of at most the largest window, bounded by the limit, plus two
// blocks). Frames are decoded straight into that buffer, which is their
// window too.
func decompressZstd(r io.ReaderAt, size, limit int64) ([]byte, error) {
	if size == 0 {
		return nil, formatErr(Zstd, io.ErrUnexpectedEOF)
	}
	open, err := zstdOpen(r, size)
	if err != nil {
		return nil, formatErr(Zstd, err)
	}
	frames := zstdScan(open(), size, limit)
	total := frames.total
	if frames.sized && total > limit {
		return nil, tooLarge(Zstd, limit)
	}
	d := new(zstdDecoder)
	if !frames.sized {
		count := &zstdOut{counting: true, grow: int(min(limit, zstdMaxWindow)) + 2*zstdBlockMax, limit: limit}
		if err := d.decodeFrames(open(), size, count); err != nil {
			return nil, formatErr(Zstd, err)
		}
		total = count.count()
		if held := int64(len(count.buf)); held+total > limit+decompressSlack {
			// Return the counting buffer before taking the output's.
			count.buf = nil
			debug.FreeOSMemory()
		}
	}
	out := &zstdOut{buf: make([]byte, total), limit: limit}
	if err := d.decodeFrames(open(), size, out); err != nil {
		return nil, formatErr(Zstd, err)
	}
	if int64(out.pos) != total {
		return nil, zstdSizeErr(int64(out.pos), total, frames.sized)
	}
	return out.buf, nil
}

// zstdOpen returns a function that returns a new source for the whole
// file each time: over the file read into memory once, when it is small,
// else reading it through a buffer.
func zstdOpen(r io.ReaderAt, size int64) (func() *source, error) {
	if size > zstdWholeFile {
		return func() *source { return newSource(r, 0, size, 2*zstdBlockMax) }, nil
	}
	data := make([]byte, size)
	if err := ReadAtFull(r, data, 0); err != nil {
		return nil, err
	}
	return func() *source {
		// err is set so that peek never moves the shared bytes.
		return &source{r: r, off: size, end: size, buf: data, n: len(data), err: io.EOF}
	}, nil
}

// zstdSizeErr reports output of n bytes where the frames stated, or a
// first decoding counted, total.
func zstdSizeErr(n, total int64, stated bool) error {
	if stated {
		return fmt.Errorf("zstd: %d bytes of output, the frames state %d", n, total)
	}
	return fmt.Errorf("zstd: %d bytes on a second decoding, %d on the first: the file changed", n, total)
}

// zstdFrames is what the frame and block headers of a zstd file say.
type zstdFrames struct {
	// sized reports that every frame states its content size, and total
	// is their sum (or the first sum past the limit). When sized is
	// false, the file holds a frame without one, or headers that could
	// not be read, which decoding reports.
	sized bool
	total int64
}

// zstdScan reads the headers of every frame and block of a zstd file,
// skipping over their data.
func zstdScan(src *source, size, limit int64) zstdFrames {
	f := zstdFrames{sized: true}
	for src.pos() < size {
		h, err := parseZstdHeader(src.peek(zstdHeaderMax))
		if err != nil || src.discard(int64(h.size)) != nil {
			return zstdFrames{}
		}
		if h.skippable {
			if src.discard(h.skip) != nil {
				return zstdFrames{}
			}
			continue
		}
		if !h.hasFCS {
			return zstdFrames{}
		}
		if h.fcs > uint64(limit-f.total) {
			f.total = limit + 1
			return f
		}
		f.total += int64(h.fcs)
		for last := false; !last; {
			b := src.peek(3)
			if len(b) < 3 {
				return zstdFrames{}
			}
			bh := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
			n := int64(bh >> 3)
			switch (bh >> 1) & 3 {
			case 1: // RLE: one byte repeated
				n = 1
			case 3: // reserved
				return zstdFrames{}
			}
			if src.discard(3+n) != nil {
				return zstdFrames{}
			}
			last = bh&1 != 0
		}
		if h.checksum && src.discard(4) != nil {
			return zstdFrames{}
		}
	}
	return f
}
