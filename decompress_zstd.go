package modprobe

import (
	"errors"
	"io"

	"github.com/klauspost/compress/zstd"
)

// zstdMaxWindow is the largest zstd window accepted: libzstd's default
// ZSTD_WINDOWLOG_LIMIT_DEFAULT (27), which kmod does not change.
const zstdMaxWindow = 1 << 27

// decompressZstd decodes every frame of a zstd file.
func decompressZstd(r io.ReaderAt, size, limit int64) ([]byte, error) {
	if size == 0 {
		// The decoder takes no input for no frames.
		return nil, formatErr(compZstd, io.ErrUnexpectedEOF)
	}
	var hdr zstd.Header
	head := make([]byte, min(size, zstd.HeaderMaxSize))
	n, _ := r.ReadAt(head, 0)
	var fcs int64 = -1
	if hdr.Decode(head[:n]) == nil && hdr.HasFCS && hdr.FrameContentSize <= uint64(limit) {
		fcs = int64(hdr.FrameContentSize)
	}
	// The window bounds the decoder's memory besides the output. One
	// larger than the limit is only needed by output that fails anyway,
	// except that a frame may declare a larger window than its content
	// (zstd -19 in a pipe declares 8 MiB), so small limits keep 8 MiB.
	// WithDecoderMaxMemory is not used: it caps the window as well, at the
	// output size, which refuses such frames.
	window := uint64(min(max(limit, 8<<20), zstdMaxWindow))
	opts := []zstd.DOption{
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(window),
	}
	// The fast path: one frame whose content size is known and within
	// the limit, decoded in one call straight into a buffer of that size.
	// WithDecodeAllCapLimit makes a file with more data than that frame
	// fail with ErrDecoderSizeExceeded, and then it is streamed below.
	if fcs >= 0 && size <= fcs+fcs/64+4096 {
		in := make([]byte, size)
		if err := readAtFull(r, in, 0); err != nil {
			return nil, formatErr(compZstd, err)
		}
		d, err := zstd.NewReader(nil, append(opts, zstd.WithDecodeAllCapLimit(true))...)
		if err != nil {
			return nil, formatErr(compZstd, err)
		}
		out, err := d.DecodeAll(in, make([]byte, 0, fcs))
		d.Close()
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			return nil, formatErr(compZstd, err)
		}
	}
	// Streaming: output.fill enforces the limit.
	d, err := zstd.NewReader(newSource(r, 0, size, inputBufSize), opts...)
	if err != nil {
		return nil, formatErr(compZstd, err)
	}
	defer d.Close()
	out := newOutput(compZstd, fcs, size, limit)
	if err := out.fill(d); err != nil {
		return nil, formatErr(compZstd, err)
	}
	return out.buf, nil
}
