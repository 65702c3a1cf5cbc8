package modfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// The xz container (xz-file-format-1.0.4) is read here, and its LZMA2
// chunks decoded by lzma2.go straight into the output: a block of known
// size (from the index) is decoded into its place in the one output
// buffer, which is its dictionary too, so the check runs once over the
// output in memory, no dictionary is allocated, and the blocks of a
// multi-block file (xz -T, the default since xz 5.6) are decoded in
// parallel. A file decoded from the front (its index unreadable) goes
// through a window of its dictionary's size, capped by the limit
// whatever the header claims.

const (
	xzHeaderLen = 12
	xzFooterLen = 12
	// xzMaxIndexRead bounds the index read for the layout of a file; a
	// larger index is only read by the streaming decoder.
	xzMaxIndexRead = 1 << 20
	// xzLZMA2 is the LZMA2 filter ID.
	xzLZMA2 = 0x21
)

var (
	errXZFormat  = errors.New("xz: file format not recognized")
	errXZHeader  = errors.New("xz: corrupt stream header")
	errXZFooter  = errors.New("xz: corrupt stream footer")
	errXZBlock   = errors.New("xz: corrupt block header")
	errXZIndex   = errors.New("xz: corrupt index")
	errXZCheck   = errors.New("xz: check mismatch")
	errXZData    = errors.New("xz: corrupt data")
	errXZPadding = errors.New("xz: corrupt stream padding")
)

// xzCheckSize returns the size of check type id (0-15), as the format
// defines it for every type, known or reserved.
func xzCheckSize(id byte) int {
	if id == 0 {
		return 0
	}
	return 4 << ((id - 1) / 3)
}

// xzVerify checks data against the check stored for it. Reserved check
// types are skipped unverified, as liblzma does without
// LZMA_TELL_UNSUPPORTED_CHECK.
func xzVerify(id byte, data, stored []byte) error {
	var ok bool
	switch id {
	case 0x01:
		ok = binary.LittleEndian.Uint32(stored) == crc32.ChecksumIEEE(data)
	case 0x04:
		ok = binary.LittleEndian.Uint64(stored) == crc64.Checksum(data, crc64.MakeTable(crc64.ECMA))
	case 0x0a:
		sum := sha256Sum(data)
		ok = bytes.Equal(stored, sum[:])
	default:
		ok = true
	}
	if !ok {
		return errXZCheck
	}
	return nil
}

// XZStreamCheck returns the check type of the first stream of the xz
// file r, from its stream header; ok is false when the header cannot be
// read, does not start with the xz magic, fails its CRC32 or has reserved
// flags set.
func XZStreamCheck(r io.ReaderAt) (check byte, ok bool) {
	var h [xzHeaderLen]byte
	if ReadAtFull(r, h[:], 0) != nil || !hasMagic(h[:], magicXZ) ||
		binary.LittleEndian.Uint32(h[8:]) != crc32.ChecksumIEEE(h[6:8]) {
		return 0, false
	}
	return xzStreamFlags(h[6:8])
}

// xzStreamFlags parses the two stream flag bytes and returns the check
// type.
func xzStreamFlags(b []byte) (byte, bool) {
	if b[0] != 0 || b[1]&0xf0 != 0 {
		return 0, false
	}
	return b[1], true
}

// xzUvarint decodes a multibyte integer of the xz format (at most 9
// bytes, minimal encoding) from p, returning the value and its length; n
// is 0 when p holds no valid integer.
func xzUvarint(p []byte) (v uint64, n int) {
	for i := 0; i < len(p) && i < 9; i++ {
		b := p[i]
		v |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			if b == 0 && i > 0 {
				return 0, 0 // not minimal
			}
			return v, i + 1
		}
	}
	return 0, 0
}

// xzBlock is a block's place in the file, from the index.
type xzBlock struct {
	off      int64 // file offset of the block header
	unpadded int64 // header + compressed data + check
	uoff     int64 // offset of the block's output
	usize    int64 // uncompressed size
	check    byte  // the stream's check type
}

// xzStream is a stream's place in the file, from its footer.
type xzStream struct {
	off   int64   // file offset of the stream header
	flags [2]byte // the stream flags, which the header must repeat
}

// xzPad4 rounds n up to a multiple of 4.
func xzPad4(n int64) int64 { return (n + 3) &^ 3 }

// xzLayout reads the footers and indexes of every stream from the end of
// the file, as xz --list does, and returns the streams, their blocks and
// the total output size. ok is false when that fails for any reason, or
// an index is too large to read here: the file is then decoded from the
// front, which finds the error, or the data the layout could not.
func xzLayout(r io.ReaderAt, size int64) (streams []xzStream, blocks []xzBlock, total int64, ok bool) {
	type streamIndex struct {
		xzStream
		recs [][2]int64
	}
	var found []streamIndex // last stream first
	pos := size
	tail := make([]byte, 4096)
	for pos > 0 {
		// Stream padding: zero 4-byte groups.
		for {
			if pos%4 != 0 || pos < xzHeaderLen+xzFooterLen {
				return nil, nil, 0, false
			}
			b := tail[:min(int64(len(tail)), pos)]
			if ReadAtFull(r, b, pos-int64(len(b))) != nil {
				return nil, nil, 0, false
			}
			k := len(b)
			for k >= 4 && b[k-1]|b[k-2]|b[k-3]|b[k-4] == 0 {
				k -= 4
			}
			pos -= int64(len(b) - k)
			if k >= 4 {
				break
			}
		}
		if pos < xzHeaderLen+xzFooterLen {
			return nil, nil, 0, false
		}
		var f [xzFooterLen]byte
		if ReadAtFull(r, f[:], pos-xzFooterLen) != nil || !xzFooterOK(f[:]) {
			return nil, nil, 0, false
		}
		check, okf := xzStreamFlags(f[8:10])
		if !okf {
			return nil, nil, 0, false
		}
		indexSize := (int64(binary.LittleEndian.Uint32(f[4:])) + 1) * 4
		indexOff := pos - xzFooterLen - indexSize
		if indexSize > xzMaxIndexRead || indexOff < xzHeaderLen {
			return nil, nil, 0, false
		}
		idx := make([]byte, indexSize)
		if ReadAtFull(r, idx, indexOff) != nil {
			return nil, nil, 0, false
		}
		recs, okx := xzParseIndex(idx, check)
		if !okx {
			return nil, nil, 0, false
		}
		var blocksSize int64
		for _, rec := range recs {
			blocksSize += xzPad4(rec[0])
			if blocksSize > indexOff {
				return nil, nil, 0, false
			}
		}
		start := indexOff - blocksSize - xzHeaderLen
		if start < 0 {
			return nil, nil, 0, false
		}
		found = append(found, streamIndex{xzStream{off: start, flags: [2]byte{f[8], f[9]}}, recs})
		pos = start
	}
	for i := len(found) - 1; i >= 0; i-- {
		s := found[i]
		streams = append(streams, s.xzStream)
		off := s.off + xzHeaderLen
		for _, rec := range s.recs {
			if total+rec[1] < total {
				return nil, nil, 0, false
			}
			blocks = append(blocks, xzBlock{off: off, unpadded: rec[0], uoff: total, usize: rec[1], check: s.flags[1]})
			off += xzPad4(rec[0])
			total += rec[1]
		}
	}
	return streams, blocks, total, len(found) > 0
}

// xzFooterOK checks a stream footer's magic and CRC32.
func xzFooterOK(f []byte) bool {
	return f[10] == 'Y' && f[11] == 'Z' && binary.LittleEndian.Uint32(f[0:]) == crc32.ChecksumIEEE(f[4:10])
}

// xzParseIndex parses a whole index (from the indicator to the CRC32) and
// returns its records (unpadded size, uncompressed size).
func xzParseIndex(idx []byte, check byte) ([][2]int64, bool) {
	if len(idx) < 8 || idx[0] != 0 {
		return nil, false
	}
	body := idx[:len(idx)-4]
	if binary.LittleEndian.Uint32(idx[len(idx)-4:]) != crc32.ChecksumIEEE(body) {
		return nil, false
	}
	p := body[1:]
	count, n := xzUvarint(p)
	if n == 0 || count > uint64(len(p))/2 {
		return nil, false
	}
	p = p[n:]
	recs := make([][2]int64, 0, count)
	for range count {
		unpadded, n1 := xzUvarint(p)
		if n1 == 0 {
			return nil, false
		}
		usize, n2 := xzUvarint(p[n1:])
		if n2 == 0 {
			return nil, false
		}
		// Unpadded size: at least a minimal header (8), one byte of data
		// and the check, at most the format's limit.
		if unpadded < 9+uint64(xzCheckSize(check)) || unpadded > 1<<62 || usize > 1<<62 {
			return nil, false
		}
		recs = append(recs, [2]int64{int64(unpadded), int64(usize)})
		p = p[n1+n2:]
	}
	// Index padding: to a multiple of 4, zeros.
	if len(p) > 3 || !allZero(p) {
		return nil, false
	}
	return recs, true
}

// allZero reports whether p holds only zero bytes.
func allZero(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}

// decompressXZ decodes every stream of an xz file: into one buffer of the
// size the indexes state (a block that differs from its index record is
// corrupt); a file whose indexes state more than limit fails at once with
// ErrTooLarge; and one whose indexes cannot be read from the end is
// decoded from the front twice, first counting its output without keeping
// it, then into a buffer of that size.
func decompressXZ(out *Buffer, r io.ReaderAt, size, limit int64) ([]byte, error) {
	if streams, blocks, total, ok := xzLayout(r, size); ok {
		if total > limit {
			return nil, tooLarge(XZ, limit)
		}
		return xzDecodeBlocks(out, r, streams, blocks, total, limit)
	}
	return xzStreamed(r, size, limit)
}

// xzStreamed decodes an xz file from the front, twice: first counting its
// output, then into a buffer of that size.
func xzStreamed(r io.ReaderAt, size, limit int64) ([]byte, error) {
	dicts := &xzDicts{}
	return decodeSized(XZ, -1, limit, func(out *output) error {
		return xzDecodeStreaming(r, size, out, dicts)
	})
}

// xzDicts accounts for the LZMA2 windows of one decoding from the front.
// A window is replaced by a larger one when a block needs it, and the old
// one becomes garbage; so that they do not pile up (the collector waits
// for the heap to double, and the output alone may be the limit), a
// collection runs whenever the dropped ones add up to half of
// decompressSlack.
type xzDicts struct {
	mu      sync.Mutex
	dropped int64
}

// drop records that a dictionary of n bytes is no longer used.
func (d *xzDicts) drop(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dropped += int64(n); d.dropped >= decompressSlack/2 {
		d.dropped = 0
		runtime.GC()
	}
}

// xzDecodeBlocks decodes the blocks of a file whose layout the indexes
// gave, each into its place in one buffer of the total size, several at a
// time when there are several blocks and CPUs.
// Each worker holds only its decoder's state and an input buffer.
func xzDecodeBlocks(buf *Buffer, r io.ReaderAt, streams []xzStream, blocks []xzBlock, total, limit int64) ([]byte, error) {
	for _, s := range streams {
		var h [xzHeaderLen]byte
		if err := ReadAtFull(r, h[:], s.off); err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		if _, err := xzParseHeader(h[:]); err != nil {
			return nil, err
		}
		if h[6] != s.flags[0] || h[7] != s.flags[1] {
			return nil, fmt.Errorf("%w: flags differ from the stream header's", errXZFooter)
		}
	}
	out := buf.take(total)
	workers := min(runtime.GOMAXPROCS(0), len(blocks))
	// No input buffer larger than the largest block: most modules are
	// smaller than a whole one.
	var inSize int64
	for _, b := range blocks {
		inSize = max(inSize, xzPad4(b.unpadded))
	}
	if workers <= 1 || buf != nil {
		// One block after the other: a Buffer's owner is one of a
		// program's workers, which keep the CPUs busy with a file
		// each, and it decodes with the Buffer's decoder, not a new
		// one (its state and input buffer, near 100 KiB, zeroed) per
		// file, nor one per goroutine per file.
		w := buf.xzWorker(inSize)
		for _, b := range blocks {
			if err := w.decodeBlock(r, b, out[b.uoff:b.uoff+b.usize]); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	var (
		next   atomic.Int64
		failed atomic.Bool
		wg     sync.WaitGroup
	)
	errs := make([]error, len(blocks))
	for range workers {
		wg.Go(func() {
			w := newXZWorker(inSize)
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(blocks) {
					return
				}
				b := blocks[i]
				if err := w.decodeBlock(r, b, out[b.uoff:b.uoff+b.usize]); err != nil {
					errs[i] = err
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// xzParseHeader checks a stream header and returns its check type.
func xzParseHeader(h []byte) (byte, error) {
	if !hasMagic(h, magicXZ) {
		return 0, errXZFormat
	}
	if binary.LittleEndian.Uint32(h[8:]) != crc32.ChecksumIEEE(h[6:8]) {
		return 0, errXZHeader
	}
	check, ok := xzStreamFlags(h[6:8])
	if !ok {
		return 0, fmt.Errorf("%w: unsupported stream flags", errXZHeader)
	}
	return check, nil
}

// xzWorker is what one goroutine reuses from block to block: the LZMA2
// decoder's state, an input buffer, and for decoding from the front a
// window.
type xzWorker struct {
	dec lzma2Decoder
	src source
	in  []byte
	win []byte
}

// newXZWorker returns a worker with an input buffer large enough for a
// whole LZMA2 chunk, or for size bytes of input when that is less (but
// no less than xzMinInput).
func newXZWorker(size int64) *xzWorker {
	return &xzWorker{in: make([]byte, xzInputSize(size))}
}

// xzInputSize is the size of newXZWorker's input buffer.
func xzInputSize(size int64) int {
	return int(max(min(size, max(inputBufSize, lzma2MaxCompressed)), xzMinInput))
}

// xzWorker returns b's worker, made once and its input buffer grown to
// newXZWorker's size for size; a new worker for a nil b.
func (b *Buffer) xzWorker(size int64) *xzWorker {
	if b == nil {
		return newXZWorker(size)
	}
	if b.xz == nil {
		b.xz = newXZWorker(size)
	} else if n := xzInputSize(size); len(b.xz.in) < n {
		b.xz.in = make([]byte, n)
	}
	return b.xz
}

// xzMinInput is the smallest input buffer of an xzWorker: more than any
// header the decoder peeks at.
const xzMinInput = 4096

// source returns the worker's source for bytes [off, end) of r.
func (w *xzWorker) source(r io.ReaderAt, off, end int64) *source {
	w.src = source{r: r, off: off, end: end, buf: w.in}
	return &w.src
}

// decodeBlock decodes the block b into dst, len(dst) == b.usize.
func (w *xzWorker) decodeBlock(r io.ReaderAt, b xzBlock, dst []byte) error {
	src := w.source(r, b.off, b.off+xzPad4(b.unpadded))
	hdr, err := xzReadBlockHeader(src)
	if err != nil {
		return err
	}
	dataEnd := b.off + b.unpadded - int64(xzCheckSize(b.check))
	if hdr.usize >= 0 && hdr.usize != b.usize ||
		hdr.csize >= 0 && hdr.off+hdr.csize != dataEnd || hdr.off >= dataEnd {
		return fmt.Errorf("%w: block sizes differ from the index", errXZIndex)
	}
	// The output is the dictionary: a chunk past its end is corrupt.
	win := lzWindow{buf: dst, dictSize: hdr.dict}
	if err := w.dec.decode(src, &win); err != nil {
		return err
	}
	// The chunks must end with the end marker, exactly at the data's end.
	if win.pos != len(dst) || src.pos() != dataEnd {
		return fmt.Errorf("%w: block smaller than the index says", errXZData)
	}
	return xzBlockTail(src, b.off, b.check, dst, true)
}

// xzBlockTail reads the block padding and the check after the compressed
// data of the block whose header starts at off, and verifies the check
// over the block's output, data, when verify is set (the output was kept).
func xzBlockTail(src *source, off int64, check byte, data []byte, verify bool) error {
	pad := int(xzPad4(src.pos()-off) - (src.pos() - off))
	tail := make([]byte, pad+xzCheckSize(check))
	if err := src.readFull(tail); err != nil {
		return fmt.Errorf("xz: %w", noEOF(err))
	}
	if !allZero(tail[:pad]) {
		return fmt.Errorf("%w: non-zero block padding", errXZData)
	}
	if !verify {
		return nil
	}
	return xzVerify(check, data, tail[pad:])
}

// xzDictCap returns the LZMA2 dictionary size to decode a block with:
// the block's own, but no larger than its output (dictionary distances
// never reach before the block's start), and at least xzMinDict.
func xzDictCap(dict uint32, usize int64) int {
	return int(max(min(int64(dict), usize), xzMinDict))
}

// xzMinDict is the smallest LZMA2 dictionary, 4 KiB.
const xzMinDict = 4096

// xzBlockHeader is what the decoder needs of a block header.
type xzBlockHeader struct {
	size  int64  // header size
	off   int64  // file offset of the compressed data
	csize int64  // compressed size, or -1
	usize int64  // uncompressed size, or -1
	dict  uint32 // LZMA2 dictionary size
}

// xzReadBlockHeader reads a block header whose size byte is next in src;
// io.EOF means an index indicator (a zero size byte) was read instead.
func xzReadBlockHeader(src *source) (xzBlockHeader, error) {
	start := src.pos()
	first, err := src.ReadByte()
	if err != nil {
		return xzBlockHeader{}, fmt.Errorf("xz: %w", noEOF(err))
	}
	if first == 0 {
		return xzBlockHeader{}, io.EOF
	}
	size := (int(first) + 1) * 4
	h := make([]byte, size)
	h[0] = first
	if err := src.readFull(h[1:]); err != nil {
		return xzBlockHeader{}, fmt.Errorf("xz: %w", noEOF(err))
	}
	if binary.LittleEndian.Uint32(h[size-4:]) != crc32.ChecksumIEEE(h[:size-4]) {
		return xzBlockHeader{}, errXZBlock
	}
	flags := h[1]
	if flags&0x3c != 0 {
		return xzBlockHeader{}, fmt.Errorf("%w: reserved flags set", errXZBlock)
	}
	bh := xzBlockHeader{size: int64(size), off: start + int64(size), csize: -1, usize: -1}
	p := h[2 : size-4]
	if flags&0x40 != 0 {
		v, n := xzUvarint(p)
		if n == 0 || v == 0 || v > 1<<62 {
			return xzBlockHeader{}, fmt.Errorf("%w: bad compressed size", errXZBlock)
		}
		bh.csize, p = int64(v), p[n:]
	}
	if flags&0x80 != 0 {
		v, n := xzUvarint(p)
		if n == 0 || v > 1<<62 {
			return xzBlockHeader{}, fmt.Errorf("%w: bad uncompressed size", errXZBlock)
		}
		bh.usize, p = int64(v), p[n:]
	}
	nfilters := int(flags&0x03) + 1
	for i := range nfilters {
		id, n := xzUvarint(p)
		if n == 0 {
			return xzBlockHeader{}, fmt.Errorf("%w: bad filter flags", errXZBlock)
		}
		p = p[n:]
		psize, n := xzUvarint(p)
		if n == 0 || psize > uint64(len(p)-n) {
			return xzBlockHeader{}, fmt.Errorf("%w: bad filter flags", errXZBlock)
		}
		props := p[n : n+int(psize)]
		p = p[n+int(psize):]
		if id != xzLZMA2 || i != nfilters-1 {
			return xzBlockHeader{}, fmt.Errorf("xz: unsupported filter 0x%02x (only LZMA2 is supported)", id)
		}
		if len(props) != 1 || props[0]&0xc0 != 0 || props[0] > 40 {
			return xzBlockHeader{}, fmt.Errorf("%w: bad LZMA2 properties", errXZBlock)
		}
		d := props[0]
		if d == 40 {
			bh.dict = 0xffffffff
		} else {
			bh.dict = (2 | uint32(d&1)) << (d/2 + 11)
		}
	}
	if !allZero(p) {
		return xzBlockHeader{}, fmt.Errorf("%w: non-zero header padding", errXZBlock)
	}
	return bh, nil
}

// xzDecodeStreaming decodes an xz file from the front into out, for files
// whose layout could not be read from their end.
func xzDecodeStreaming(r io.ReaderAt, size int64, out *output, dicts *xzDicts) error {
	w := newXZWorker(size)
	src := w.source(r, 0, size)
	for stream := 0; ; stream++ {
		var h [xzHeaderLen]byte
		if err := src.readFull(h[:]); err != nil {
			return fmt.Errorf("xz: %w", noEOF(err))
		}
		check, err := xzParseHeader(h[:])
		if err != nil {
			if stream > 0 && errors.Is(err, errXZFormat) {
				return fmt.Errorf("%w: data after stream %d is not an xz stream", errXZPadding, stream)
			}
			return err
		}
		var recs [][2]int64
		for {
			rec, err := w.streamBlock(src, check, out, dicts)
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			recs = append(recs, rec)
		}
		if err := xzStreamTail(src, h[6:8], recs); err != nil {
			return err
		}
		// Stream padding, then the end or another stream.
		for {
			p := src.peek(4)
			if len(p) == 0 {
				return nil
			}
			if len(p) < 4 || !allZero(p) {
				break
			}
			src.i += 4
		}
		if len(src.peek(4)) < 4 {
			return errXZPadding
		}
	}
}

// streamBlock decodes the next block of a stream into out and returns
// its index record; io.EOF means the index indicator was read.
func (w *xzWorker) streamBlock(src *source, check byte, out *output, dicts *xzDicts) ([2]int64, error) {
	start := src.pos()
	hdr, err := xzReadBlockHeader(src)
	if err != nil {
		return [2]int64{}, err
	}
	usize := out.room() + 1
	if hdr.usize >= 0 {
		usize = min(usize, hdr.usize)
	}
	// A window of the dictionary and a chunk, no larger than the output
	// can be; a chunk that does not fit after the dictionary is more
	// output than that.
	dictCap := xzDictCap(hdr.dict, usize)
	winSize := dictCap + int(min(lzma2MaxChunk, usize))
	if len(w.win) < winSize {
		dicts.drop(len(w.win))
		w.win = make([]byte, winSize)
	}
	win := lzWindow{buf: w.win[:winSize], dictSize: hdr.dict, out: out, keep: dictCap,
		overflow: tooLarge(XZ, out.limit)}
	if hdr.usize >= 0 {
		win.overflow = fmt.Errorf("%w: block sizes differ from its header", errXZData)
	}
	ustart := out.n
	err = w.dec.decode(src, &win)
	if err == nil {
		err = win.flush()
	}
	if err != nil {
		return [2]int64{}, formatErr(XZ, err)
	}
	n := out.n - ustart
	csize := src.pos() - hdr.off
	if hdr.usize >= 0 && n != hdr.usize || hdr.csize >= 0 && csize != hdr.csize {
		return [2]int64{}, fmt.Errorf("%w: block sizes differ from its header", errXZData)
	}
	data, kept := out.since(ustart)
	if err := xzBlockTail(src, start, check, data, kept); err != nil {
		return [2]int64{}, err
	}
	return [2]int64{hdr.size + csize + int64(xzCheckSize(check)), n}, nil
}

// xzStreamTail reads a stream's index (its indicator already read) and
// footer and checks them against the blocks decoded.
func xzStreamTail(src *source, flags []byte, recs [][2]int64) error {
	// The index: indicator, count, records, padding, CRC32.
	idx := []byte{0}
	readVarint := func() (uint64, error) {
		for i := 0; i < 9; i++ {
			b, err := src.ReadByte()
			if err != nil {
				return 0, fmt.Errorf("xz: %w", noEOF(err))
			}
			idx = append(idx, b)
			if b&0x80 == 0 {
				v, n := xzUvarint(idx[len(idx)-i-1:])
				if n == 0 {
					return 0, errXZIndex
				}
				return v, nil
			}
		}
		return 0, errXZIndex
	}
	count, err := readVarint()
	if err != nil {
		return err
	}
	if count != uint64(len(recs)) {
		return fmt.Errorf("%w: %d records for %d blocks", errXZIndex, count, len(recs))
	}
	for _, rec := range recs {
		unpadded, err := readVarint()
		if err != nil {
			return err
		}
		usize, err := readVarint()
		if err != nil {
			return err
		}
		if unpadded != uint64(rec[0]) || usize != uint64(rec[1]) {
			return fmt.Errorf("%w: a record differs from its block", errXZIndex)
		}
	}
	pad := make([]byte, int(xzPad4(int64(len(idx))))-len(idx)+4)
	if err := src.readFull(pad); err != nil {
		return fmt.Errorf("xz: %w", noEOF(err))
	}
	if !allZero(pad[:len(pad)-4]) {
		return fmt.Errorf("%w: non-zero padding", errXZIndex)
	}
	idx = append(idx, pad[:len(pad)-4]...)
	if binary.LittleEndian.Uint32(pad[len(pad)-4:]) != crc32.ChecksumIEEE(idx) {
		return fmt.Errorf("%w: CRC32 mismatch", errXZIndex)
	}
	var f [xzFooterLen]byte
	if err := src.readFull(f[:]); err != nil {
		return fmt.Errorf("xz: %w", noEOF(err))
	}
	if !xzFooterOK(f[:]) {
		return errXZFooter
	}
	if !bytes.Equal(f[8:10], flags) {
		return fmt.Errorf("%w: flags differ from the stream header's", errXZFooter)
	}
	if (int64(binary.LittleEndian.Uint32(f[4:]))+1)*4 != int64(len(idx))+4 {
		return fmt.Errorf("%w: wrong index size", errXZFooter)
	}
	return nil
}
