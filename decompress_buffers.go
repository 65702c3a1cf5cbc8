package modprobe

import (
	"io"
)

// output collects decompressed bytes, never more than limit.
type output struct {
	buf   []byte
	limit int64
	c     compression // for error messages
}

// newOutput returns an output whose first allocation is hint bytes when
// 0 < hint <= limit, and otherwise a guess from the compressed size.
func newOutput(c compression, hint, compressed, limit int64) *output {
	n := hint
	if n <= 0 || n > limit {
		// Modules compress 3 to 7 times; start at 4 times, at least 64 KiB.
		n = min(max(compressed*4, 64<<10), limit)
	}
	return &output{buf: make([]byte, 0, n), limit: limit, c: c}
}

// maxZeroReads bounds how many times in a row a decoder may return no data
// and no error before fill gives up with io.ErrNoProgress.
const maxZeroReads = 100

// fill reads r to io.EOF into o. It fails with ErrTooLarge once r has more
// than o.limit bytes in total; when the buffer is full it reads one byte
// to tell the end of the data from more data before growing.
func (o *output) fill(r io.Reader) error {
	zero := 0
	for {
		if len(o.buf) == cap(o.buf) {
			var one [1]byte
			n, err := r.Read(one[:])
			if n == 0 {
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				if zero++; zero >= maxZeroReads {
					return io.ErrNoProgress
				}
				continue
			}
			zero = 0
			if int64(len(o.buf)) >= o.limit {
				return tooLarge(o.c, o.limit)
			}
			o.grow()
			o.buf = append(o.buf, one[0])
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			continue
		}
		n, err := r.Read(o.buf[len(o.buf):cap(o.buf)])
		o.buf = o.buf[:len(o.buf)+n]
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

// grow doubles the buffer's capacity, within limit; len(o.buf) < o.limit.
func (o *output) grow() {
	n := min(max(2*int64(cap(o.buf)), 64<<10), o.limit)
	buf := make([]byte, len(o.buf), n)
	copy(buf, o.buf)
	o.buf = buf
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
