package modfile

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// compression is the format of a module file, as libkmod detects it from
// the file's first bytes.
type Compression uint8

const (
	None Compression = iota
	Gzip
	XZ
	Zstd
)

// String returns the name /sys/module/compression uses: "gzip", "xz",
// "zstd"; "none" for compNone.
func (c Compression) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case XZ:
		return "xz"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("compression(%d)", uint8(c))
}

// parseCompression maps the content of /sys/module/compression to a
// compression. Like libkmod (get_kernel_compression in libkmod.c) it
// accepts exactly "zstd\n", "xz\n" and "gzip\n", what the kernel writes;
// ok is false for anything else, which libkmod logs as an unknown kernel
// compression and then treats as none.
func ParseCompression(s string) (Compression, bool) {
	switch s {
	case "zstd\n":
		return Zstd, true
	case "xz\n":
		return XZ, true
	case "gzip\n":
		return Gzip, true
	}
	return None, false
}

// Magic bytes, as libkmod's kmod_file_open checks them.
const (
	magicZstd = "\x28\xb5\x2f\xfd"
	magicXZ   = "\xfd7zXZ\x00"
	magicGzip = "\x1f\x8b"
)

// hasMagic reports whether b starts with magic.
func hasMagic(b []byte, magic string) bool {
	return len(b) >= len(magic) && string(b[:len(magic)]) == magic
}

// sniffCompression returns the compression of a module file from its
// first bytes, head, exactly as libkmod does: never from the file name.
// zstd is 28 B5 2F FD, xz FD 37 7A 58 5A 00, gzip 1F 8B, anything else is
// none. libkmod reads 6 bytes and rejects a shorter file with EINVAL; that
// is the caller's job. With fewer bytes, only the magics that fit in head
// are tried.
func Sniff(head []byte) Compression {
	switch {
	case hasMagic(head, magicZstd):
		return Zstd
	case hasMagic(head, magicXZ):
		return XZ
	case hasMagic(head, magicGzip):
		return Gzip
	}
	return None
}

// decompress reads a whole module file of size bytes from r, compressed
// with c, and returns the decompressed image. compNone returns the file's
// bytes.
//
// It accepts what kmod accepts (all of kmod's decoders read the whole
// file): concatenated gzip members, with trailing garbage ignored after a
// member as zlib's gzread does; concatenated xz streams with stream
// padding (liblzma's LZMA_CONCATENATED), with the LZMA2 filter only (what
// kbuild writes; BCJ and delta filters are refused) and any check; one or
// more zstd frames, skippable frames included, with a window of up to
// 128 MiB (libzstd's default limit).
//
// Memory: the output buffer is taken once, of the output's size, and never
// grows: that size is what the file states (the xz indexes, the zstd
// frames' content sizes, the gzip ISIZE trailer), or, when it states none
// or a wrong one (a gzip file of several members), what a first decoding
// counted without keeping the output. A file whose xz indexes or zstd
// frames state more than limit fails at once with ErrTooLarge; otherwise
// output over limit fails with ErrTooLarge as soon as the decoder produces
// the byte past the limit. With decoder state and buffers, a decompression
// holds at most limit plus decompressSlack, whatever the file: except, for
// a file that is not a bomb, an xz block's LZMA2 dictionary (no larger
// than the block's output) beside the output when the file's index cannot
// be read from its end (otherwise each block is decoded into its place in
// the output, which is its dictionary; zstd frames are decoded into the
// output, which is their window). An xz or zstd
// size that is wrong is a corrupt file; a wrong gzip ISIZE (several
// members) costs a second decoding. A corrupt or truncated input fails with
// an error naming the format and wrapping the decoder's error
// (io.ErrUnexpectedEOF for a truncated file).
func Decompress(r io.ReaderAt, size int64, c Compression, limit int64) ([]byte, error) {
	return decompress(nil, r, size, c, limit)
}

// decompress is Decompress, decoding into out (nil allocates) when the
// format tells the output's size first (xz, from its index).
func decompress(out *Buffer, r io.ReaderAt, size int64, c Compression, limit int64) ([]byte, error) {
	if size < 0 {
		return nil, fmt.Errorf("%s: negative file size %d", c, size)
	}
	if limit < 0 {
		limit = 0
	}
	switch c {
	case None:
		return readPlain(r, size, limit)
	case Gzip:
		return decompressGzip(r, size, limit)
	case XZ:
		return decompressXZ(out, r, size, limit)
	case Zstd:
		return decompressZstd(r, size, limit)
	}
	return nil, fmt.Errorf("decompress: unknown compression %v", c)
}

// tooLarge returns the error for output over limit.
func tooLarge(c Compression, limit int64) error {
	return fmt.Errorf("%w: %s output exceeds the limit of %d bytes", ErrTooLarge, c, limit)
}

// formatErr wraps a decoder's error in "FORMAT: ...", unless the message
// already starts that way (compress/gzip's errors say "gzip: ...").
func formatErr(c Compression, err error) error {
	if errors.Is(err, ErrTooLarge) || strings.HasPrefix(err.Error(), c.String()+":") {
		return err
	}
	return fmt.Errorf("%s: %w", c, err)
}

// readPlain returns the size bytes of an uncompressed module.
func readPlain(r io.ReaderAt, size, limit int64) ([]byte, error) {
	if size > limit {
		return nil, tooLarge(None, limit)
	}
	buf := make([]byte, size)
	if err := ReadAtFull(r, buf, 0); err != nil {
		return nil, fmt.Errorf("read module: %w", err)
	}
	return buf, nil
}

// readAtFull fills p from r at off; a short read is io.ErrUnexpectedEOF.
func ReadAtFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
