package sign

import (
	"bytes"
	"compress/gzip"
	"fmt"

	"github.com/gokmod/modprobe/internal/modfile"
)

// DefaultMaxSize bounds a decompressed module when Options.MaxSize is 0.
const DefaultMaxSize = 1 << 30

// Options says how a module file is read and written back.
type Options struct {
	// MaxSize bounds the decompressed module; 0 means DefaultMaxSize.
	MaxSize int64
	// Zstd compresses a signed module for a zstd-compressed file; nil
	// refuses such files with ErrZstdWriter. Package signzstd has one
	// (kept apart so that a program that needs no zstd writer does not
	// link klauspost/compress).
	Zstd func(image []byte) ([]byte, error)
}

// Image returns the module image in file: file itself, or its contents
// decompressed when it is gzip, xz or zstd (told by the magic bytes).
func Image(file []byte, maxSize int64) ([]byte, error) {
	if maxSize == 0 {
		maxSize = DefaultMaxSize
	}
	return modfile.DecompressBytes(file, maxSize)
}

// SignFile signs the module file file, compressed or not, and returns the
// signed file, compressed again in the same format, and the SignedData
// (sign-file's MODULE.p7s).
func (s *Signer) SignFile(file []byte, opts Options) (signed, sd []byte, err error) {
	err = rewrite(file, opts, func(image []byte) ([]byte, error) {
		if sd, err = s.SignedData(image); err != nil {
			return nil, err
		}
		return Append(image, sd), nil
	}, &signed)
	return signed, sd, err
}

// AppendFile appends the signature sig to the module in file, as sign-file
// -s does, decompressing and compressing again a compressed module.
func AppendFile(file, sig []byte, opts Options) ([]byte, error) {
	var out []byte
	err := rewrite(file, opts, func(image []byte) ([]byte, error) { return Append(image, sig), nil }, &out)
	return out, err
}

// rewrite applies edit to the image in file and stores the result,
// compressed as file was, in out.
func rewrite(file []byte, opts Options, edit func([]byte) ([]byte, error), out *[]byte) error {
	comp := modfile.Sniff(file)
	if comp == modfile.Zstd && opts.Zstd == nil {
		return ErrZstdWriter
	}
	image, err := Image(file, opts.MaxSize)
	if err != nil {
		return err
	}
	edited, err := edit(image)
	if err != nil {
		return err
	}
	if *out, err = compress(comp, edited, opts); err != nil {
		return fmt.Errorf("compressing the signed module (%v): %w", comp, err)
	}
	return nil
}

// compress compresses image as the kernel's build compresses modules
// (scripts/Makefile.modinst): gzip -n (level 6, no name, no time), xz
// --check=crc32 --lzma2=dict=1MiB (the kernel's xz decoder knows only
// CRC32), zstd through opts.Zstd.
func compress(comp modfile.Compression, image []byte, opts Options) ([]byte, error) {
	var buf bytes.Buffer
	switch comp {
	case modfile.None:
		return image, nil
	case modfile.Zstd:
		return opts.Zstd(image)
	case modfile.Gzip:
		w, err := gzip.NewWriterLevel(&buf, 6)
		if err != nil {
			return nil, err
		}
		w.OS = 3 // Unix, as gzip writes it
		if _, err := w.Write(image); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	case modfile.XZ:
		return compressXZ(image)
	default:
		return nil, fmt.Errorf("unknown compression %v", comp)
	}
	return buf.Bytes(), nil
}
