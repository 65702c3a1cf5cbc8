package modfile

import (
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// zstdMaxWindow is the largest zstd window accepted: libzstd's default
// ZSTD_WINDOWLOG_LIMIT_DEFAULT (27), which kmod does not change.
const zstdMaxWindow = 1 << 27

// zstdHeadroom is the room DecodeAll gets past the output it should make:
// it appends a block (at most 128 KiB) before it checks the size, and
// must not reallocate the buffer to do so.
const zstdHeadroom = 128<<10 + 64

// decompressZstd decodes every frame of a zstd file.
//
// The output buffer is taken once, of the output's size: the sum of the
// frames' content sizes when every frame states its own (as zstd writes a
// file; a frame that differs from its statement is corrupt), or else the
// size counted by decoding the file once without keeping the output. The
// file is then decoded in one call into that buffer, which is the
// decoder's window too, with the compressed file in memory; or, when that
// file is larger than both the streaming decoder's window and what the
// limit leaves beside the output, streamed into it.
func decompressZstd(r io.ReaderAt, size, limit int64) ([]byte, error) {
	if size == 0 {
		// The decoder takes no input for no frames.
		return nil, formatErr(Zstd, io.ErrUnexpectedEOF)
	}
	// The window bounds the streaming decoder's memory besides the
	// output. One larger than the limit is only needed by output that
	// fails anyway, except that a frame may declare a larger window than
	// its content (zstd -19 in a pipe declares 8 MiB), so small limits
	// keep 8 MiB. WithDecoderMaxMemory is not used: it caps the window as
	// well, at the output size, which refuses such frames.
	window := min(max(limit, 8<<20), zstdMaxWindow)
	opts := []zstd.DOption{
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(uint64(window)),
	}
	frames := zstdScan(r, size, limit)
	total := frames.total
	if frames.sized && total > limit {
		return nil, tooLarge(Zstd, limit)
	}
	if !frames.sized {
		count := newOutput(Zstd, -1, limit)
		if err := zstdDecodeStream(r, size, opts, count); err != nil {
			return nil, err
		}
		total, frames.window = count.n, window
	}
	if size+total <= limit+decompressSlack || size <= frames.window {
		return zstdDecodeAll(r, size, total, opts)
	}
	out := newOutput(Zstd, total, limit)
	if err := zstdDecodeStream(r, size, opts, out); err != nil {
		return nil, err
	}
	if out.n != total {
		return nil, zstdSizeErr(out.n, total, frames.sized)
	}
	return out.buf, nil
}

// zstdSizeErr reports output of n bytes where the frames stated, or a
// first decoding counted, total.
func zstdSizeErr(n, total int64, stated bool) error {
	if stated {
		return fmt.Errorf("zstd: %d bytes of output, the frames state %d", n, total)
	}
	return fmt.Errorf("zstd: %d bytes on a second decoding, %d on the first: the file changed", n, total)
}

// zstdDecodeAll reads the whole file and decodes it in one call into a
// buffer of total bytes (plus zstdHeadroom), which must be the output's
// size.
func zstdDecodeAll(r io.ReaderAt, size, total int64, opts []zstd.DOption) ([]byte, error) {
	in := make([]byte, size)
	if err := ReadAtFull(r, in, 0); err != nil {
		return nil, formatErr(Zstd, err)
	}
	d, err := zstd.NewReader(nil, append(opts, zstd.WithDecodeAllCapLimit(true))...)
	if err != nil {
		return nil, formatErr(Zstd, err)
	}
	defer d.Close()
	out, err := d.DecodeAll(in, make([]byte, 0, total+zstdHeadroom))
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		return nil, zstdSizeErr(int64(len(out)), total, true)
	}
	if err != nil {
		return nil, formatErr(Zstd, err)
	}
	if int64(len(out)) != total {
		return nil, zstdSizeErr(int64(len(out)), total, true)
	}
	return out, nil
}

// zstdDecodeStream decodes the file with the streaming decoder into out.
func zstdDecodeStream(r io.ReaderAt, size int64, opts []zstd.DOption, out *output) error {
	d, err := zstd.NewReader(newSource(r, 0, size, inputBufSize), opts...)
	if err != nil {
		return formatErr(Zstd, err)
	}
	defer d.Close()
	if err := out.fill(d); err != nil {
		return formatErr(Zstd, err)
	}
	return nil
}

// zstdFrames is what the frame and block headers of a zstd file say.
type zstdFrames struct {
	// sized reports that every frame states its content size, and total
	// is their sum (or the first sum past the limit). When sized is
	// false, the file holds a frame without one, or headers that could
	// not be read, which decoding reports.
	sized bool
	total int64
	// window is the largest window of the frames.
	window int64
}

// zstdScan reads the headers of every frame and block of a zstd file,
// skipping over their data.
func zstdScan(r io.ReaderAt, size, limit int64) zstdFrames {
	src := newSource(r, 0, size, inputBufSize)
	f := zstdFrames{sized: true}
	for src.pos() < size {
		var h zstd.Header
		if h.Decode(src.peek(zstd.HeaderMaxSize)) != nil || src.discard(int64(h.HeaderSize)) != nil {
			return zstdFrames{}
		}
		if h.Skippable {
			if src.discard(int64(h.SkippableSize)) != nil {
				return zstdFrames{}
			}
			continue
		}
		if !h.HasFCS {
			return zstdFrames{}
		}
		w := h.WindowSize
		if h.SingleSegment {
			w = h.FrameContentSize
		}
		f.window = max(f.window, int64(min(w, zstdMaxWindow)))
		if h.FrameContentSize > uint64(limit-f.total) {
			f.total = limit + 1
			return f
		}
		f.total += int64(h.FrameContentSize)
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
		if h.HasCheckSum && src.discard(4) != nil {
			return zstdFrames{}
		}
	}
	return f
}
