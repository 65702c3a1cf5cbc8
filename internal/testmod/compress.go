package testmod

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Compression selects how a module file is compressed.
type Compression int

const (
	// None writes the ELF image as is (".ko").
	None Compression = iota
	// Gzip writes a gzip stream (".ko.gz").
	Gzip
	// Xz writes an xz stream with a CRC32 check and a 1 MiB LZMA2
	// dictionary, as kbuild's "xz --check=crc32 --lzma2=dict=1MiB" does;
	// the kernel's in-kernel xz decoder accepts only CRC32 (or no) checks
	// (".ko.xz").
	Xz
	// XzCRC64 writes an xz stream with the CRC64 check the xz command uses
	// by default (".ko.xz").
	XzCRC64
	// Zstd writes a single zstd frame with a content checksum (".ko.zst").
	Zstd
	// XzSHA256 writes an xz stream with a SHA-256 check (".ko.xz").
	XzSHA256
	// XzNoCheck writes an xz stream without a check (".ko.xz").
	XzNoCheck
)

// String returns the constant's name.
func (c Compression) String() string {
	switch c {
	case None:
		return "None"
	case Gzip:
		return "Gzip"
	case Xz:
		return "Xz"
	case XzCRC64:
		return "XzCRC64"
	case Zstd:
		return "Zstd"
	case XzSHA256:
		return "XzSHA256"
	case XzNoCheck:
		return "XzNoCheck"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// Suffix returns the file name suffix kmod expects for c: ".ko", ".ko.gz",
// ".ko.xz" or ".ko.zst". It returns "" for an unknown value.
func (c Compression) Suffix() string {
	switch c {
	case None:
		return ".ko"
	case Gzip:
		return ".ko.gz"
	case Xz, XzCRC64, XzSHA256, XzNoCheck:
		return ".ko.xz"
	case Zstd:
		return ".ko.zst"
	}
	return ""
}

// CompressionFromPath returns the compression a module path's suffix
// implies (Xz for ".ko.xz") and whether the path has a module suffix at all.
func CompressionFromPath(path string) (Compression, bool) {
	switch {
	case strings.HasSuffix(path, ".ko"):
		return None, true
	case strings.HasSuffix(path, ".ko.gz"):
		return Gzip, true
	case strings.HasSuffix(path, ".ko.xz"):
		return Xz, true
	case strings.HasSuffix(path, ".ko.zst"):
		return Zstd, true
	}
	return None, false
}

// Compress returns data compressed with c. None returns a copy of data.
func Compress(data []byte, c Compression) ([]byte, error) {
	var buf bytes.Buffer
	switch c {
	case None:
		return bytes.Clone(data), nil
	case Gzip:
		w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			return nil, fmt.Errorf("testmod: gzip: %w", err)
		}
		if _, err := w.Write(data); err != nil {
			return nil, fmt.Errorf("testmod: gzip: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("testmod: gzip: %w", err)
		}
	case Xz, XzCRC64, XzSHA256, XzNoCheck:
		cfg := map[Compression]xz.WriterConfig{
			Xz:        {CheckSum: xz.CRC32, DictCap: 1 << 20},
			XzCRC64:   {CheckSum: xz.CRC64},
			XzSHA256:  {CheckSum: xz.SHA256},
			XzNoCheck: {NoCheckSum: true},
		}[c]
		w, err := cfg.NewWriter(&buf)
		if err != nil {
			return nil, fmt.Errorf("testmod: xz: %w", err)
		}
		if _, err := w.Write(data); err != nil {
			return nil, fmt.Errorf("testmod: xz: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("testmod: xz: %w", err)
		}
	case Zstd:
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true))
		if err != nil {
			return nil, fmt.Errorf("testmod: zstd: %w", err)
		}
		out := enc.EncodeAll(data, nil)
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("testmod: zstd: %w", err)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("testmod: unknown compression %v", c)
	}
	return buf.Bytes(), nil
}
