package modfile

import (
	"fmt"
	"io"
	"runtime/debug"
)

// decompressSlack bounds the memory a decompression holds beyond its
// output (decoder tables and input buffers): with the output, at most
// limit plus this.
// xz is the exception for a file that is not a bomb and whose index
// cannot be read from its end, holding its block's LZMA2 dictionary (no
// larger than the block's output) besides the output; see decompress.
const decompressSlack = 16 << 20

// output receives decompressed bytes into a buffer planned for them, and
// counts, without keeping, whatever does not fit: the buffer never grows,
// so that no old and new copy are ever held at once. A decoder runs a
// second time when the first run overflowed its buffer (the size was not
// known, or a hint was wrong), into a buffer of the size it counted; see
// decodeSized.
type output struct {
	buf   []byte // cap(buf) is the plan
	n     int64  // bytes produced, those counted past the buffer included
	limit int64  // n past limit fails with ErrTooLarge
	c     Compression
	// scratch receives the bytes past the buffer.
	scratch []byte
}

// newOutput returns an output with a buffer of plan bytes (none when
// plan < 0), counting up to limit.
func newOutput(c Compression, plan, limit int64) *output {
	o := &output{limit: limit, c: c}
	if plan > 0 {
		o.buf = make([]byte, 0, plan)
	}
	return o
}

// overflowed reports whether bytes were produced past the buffer.
func (o *output) overflowed() bool { return o.n > int64(len(o.buf)) }

// room returns how many more bytes the output is to take: what is left of
// the buffer when its size is planned, else of the limit.
func (o *output) room() int64 {
	if cap(o.buf) > 0 && !o.overflowed() {
		return int64(cap(o.buf) - len(o.buf))
	}
	return o.limit - o.n
}

// since returns the bytes produced from offset start on, and whether they
// are all in the buffer.
func (o *output) since(start int64) ([]byte, bool) {
	if o.overflowed() || start > int64(len(o.buf)) {
		return nil, false
	}
	return o.buf[start:], true
}

// write appends p to o: into the buffer while it has room, only counted
// past it. It fails with ErrTooLarge once the output has more than
// o.limit bytes in total.
func (o *output) write(p []byte) error {
	if len(o.buf) < cap(o.buf) && !o.overflowed() {
		k := copy(o.buf[len(o.buf):cap(o.buf)], p)
		o.buf = o.buf[:len(o.buf)+k]
	}
	o.n += int64(len(p))
	if o.n > o.limit {
		return tooLarge(o.c, o.limit)
	}
	return nil
}

// maxZeroReads bounds how many times in a row a decoder may return no data
// and no error before fill gives up with io.ErrNoProgress.
const maxZeroReads = 100

// fill reads r to io.EOF into o. It fails with ErrTooLarge once the output
// has more than o.limit bytes in total.
func (o *output) fill(r io.Reader) error {
	zero := 0
	for {
		var p []byte
		if len(o.buf) < cap(o.buf) && !o.overflowed() {
			p = o.buf[len(o.buf):cap(o.buf)]
		} else {
			if o.scratch == nil {
				o.scratch = make([]byte, inputBufSize)
			}
			p = o.scratch
		}
		n, err := r.Read(p)
		if len(o.buf) < cap(o.buf) && !o.overflowed() {
			o.buf = o.buf[:len(o.buf)+n]
		}
		o.n += int64(n)
		if o.n > o.limit {
			return tooLarge(o.c, o.limit)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if n == 0 {
			if zero++; zero >= maxZeroReads {
				return io.ErrNoProgress
			}
		} else {
			zero = 0
		}
	}
}

// decodeSized runs decode, which writes a whole file's output to the
// output it is given, into a buffer of hint bytes (none when hint is
// negative or over limit): the file's own statement of its size. When the
// output overflows that buffer, decode runs again into a buffer of the
// size the first run counted. A buffer of the wrong size is released to
// the operating system before the second one is taken when both together
// would exceed limit by more than decompressSlack, so that the peak stays
// within it: a wrong hint is rare (a gzip file of several members).
func decodeSized(c Compression, hint, limit int64, decode func(o *output) error) ([]byte, error) {
	if hint > limit {
		hint = -1
	}
	o := newOutput(c, hint, limit)
	if err := decode(o); err != nil {
		return nil, err
	}
	if !o.overflowed() {
		return o.buf, nil
	}
	size, held := o.n, int64(cap(o.buf))
	o.buf = nil
	if held > 0 && held+size > limit+decompressSlack {
		debug.FreeOSMemory()
	}
	o = newOutput(c, size, limit)
	if err := decode(o); err != nil {
		return nil, err
	}
	if o.n != size {
		return nil, fmt.Errorf("%s: %d bytes on a second reading, %d on the first: the file changed", c, o.n, size)
	}
	return o.buf, nil
}

// ---------------------------------------------------------------------
// Input.

// inputBufSize is the read size for compressed input.
const inputBufSize = 64 << 10

// source reads bytes [off, end) of an io.ReaderAt through a buffer. It is
// an io.ByteReader, so that gzip reads it without another buffer, and
// knows its position, so that the xz framing can check sizes without a
// counting wrapper.
type source struct {
	r    io.ReaderAt
	off  int64 // file offset of the next byte to fill buf from
	end  int64
	buf  []byte
	i, n int // buf[i:n] is unread
	err  error
}

// newSource returns a source for bytes [off, end) of r.
func newSource(r io.ReaderAt, off, end int64, bufSize int) *source {
	return &source{r: r, off: off, end: end, buf: make([]byte, bufSize)}
}

// pos returns the file offset of the next byte Read returns.
func (s *source) pos() int64 { return s.off - int64(s.n-s.i) }

// refill reads more input into the buffer; it returns io.EOF at end.
func (s *source) refill() error {
	if s.err != nil {
		return s.err
	}
	want := int64(len(s.buf))
	if left := s.end - s.off; left < want {
		want = left
	}
	if want <= 0 {
		s.err = io.EOF
		return s.err
	}
	n, err := s.r.ReadAt(s.buf[:want], s.off)
	s.off += int64(n)
	s.i, s.n = 0, n
	if n > 0 {
		return nil
	}
	if err == nil || err == io.EOF {
		// The file is shorter than its size said.
		err = io.EOF
	}
	s.err = err
	return err
}

// Read implements io.Reader.
func (s *source) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.i == s.n {
		if err := s.refill(); err != nil {
			return 0, err
		}
	}
	if len(p) == 1 {
		// LZMA2 reads its compressed data one byte at a time.
		p[0] = s.buf[s.i]
		s.i++
		return 1, nil
	}
	n := copy(p, s.buf[s.i:s.n])
	s.i += n
	return n, nil
}

// ReadByte implements io.ByteReader.
func (s *source) ReadByte() (byte, error) {
	if s.i == s.n {
		if err := s.refill(); err != nil {
			return 0, err
		}
	}
	b := s.buf[s.i]
	s.i++
	return b, nil
}

// discard skips n bytes; io.ErrUnexpectedEOF when fewer are left.
func (s *source) discard(n int64) error {
	if k := int64(s.n - s.i); n <= k {
		s.i += int(n)
		return nil
	}
	n -= int64(s.n - s.i)
	s.i, s.n = 0, 0
	if n > s.end-s.off {
		s.off = s.end
		return io.ErrUnexpectedEOF
	}
	s.off += n
	return nil
}

// readFull reads exactly len(p) bytes; a short read is
// io.ErrUnexpectedEOF, and no bytes at all io.EOF.
func (s *source) readFull(p []byte) error {
	_, err := io.ReadFull(s, p)
	return err
}

// peek returns up to n unread bytes without consuming them; fewer at the
// end of the input.
func (s *source) peek(n int) []byte {
	if s.n-s.i < n && s.err == nil {
		// Move what is left to the front and read after it.
		k := copy(s.buf, s.buf[s.i:s.n])
		s.i, s.n = 0, k
		for s.n < n && s.err == nil && s.off < s.end {
			want := min(int64(len(s.buf)-s.n), s.end-s.off)
			m, err := s.r.ReadAt(s.buf[s.n:int64(s.n)+want], s.off)
			s.off += int64(m)
			s.n += m
			if m == 0 {
				if err == nil {
					err = io.EOF
				}
				s.err = err
			}
		}
	}
	return s.buf[s.i:min(s.n, s.i+n)]
}
