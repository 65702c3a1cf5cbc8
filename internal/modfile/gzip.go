package modfile

import (
	"compress/gzip"
	"encoding/binary"
	"io"
)

// decompressGzip decodes gzip members until the end of the file or
// until what follows a member does not start with the gzip magic, which
// zlib's gzread, and so kmod, ignores as trailing garbage.
func decompressGzip(r io.ReaderAt, size, limit int64) ([]byte, error) {
	// ISIZE, the last 4 bytes, is the size of the last member mod 2^32:
	// the whole output for the usual single member without garbage. When
	// it is not, the members are decoded a second time into a buffer of
	// the size counted.
	hint := int64(-1)
	if size >= 18 {
		var t [4]byte
		if ReadAtFull(r, t[:], size-4) == nil {
			hint = int64(binary.LittleEndian.Uint32(t[:]))
		}
	}
	return decodeSized(Gzip, hint, limit, func(out *output) error {
		src := newSource(r, 0, size, inputBufSize)
		zr, err := gzip.NewReader(src)
		if err != nil {
			return formatErr(Gzip, noEOF(err))
		}
		defer zr.Close()
		for {
			zr.Multistream(false)
			if err := out.fill(zr); err != nil {
				return formatErr(Gzip, err)
			}
			if !hasMagic(src.peek(2), magicGzip) {
				return nil
			}
			if err := zr.Reset(src); err != nil {
				return formatErr(Gzip, noEOF(err))
			}
		}
	})
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF: the data stopped in a
// header or a trailer.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
