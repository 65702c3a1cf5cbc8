package modfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/gokmod/modprobe/internal/fileio"
)

// ReadFile returns the ELF image in the module file at path: the file
// itself, or its contents decompressed when it is gzip, xz or zstd (told
// by its magic bytes, never its name). maxSize bounds the image
// (ErrTooLarge beyond). A file shorter than a module's magic fails with
// ENOEXEC.
func ReadFile(path string, maxSize int64) ([]byte, error) {
	f, comp, err := openModule(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeFile(nil, f, f.Size(), path, comp, maxSize)
}

// openModule opens the module file at path and tells its compression
// from its magic (see SniffFile).
func openModule(path string) (*fileio.Regular, Compression, error) {
	f, err := fileio.OpenRegularFile(path)
	if err != nil {
		return nil, None, err
	}
	comp, err := sniffAt(f, path)
	if err != nil {
		f.Close()
		return nil, None, err
	}
	return f, comp, nil
}

// DecompressBytes returns the ELF image in data, the bytes of a module
// file already read: data itself when it is not gzip, xz or zstd (told by
// its magic bytes, as ReadFile tells them), else its decompressed
// contents. maxSize bounds the image (ErrTooLarge beyond). Unlike ReadFile
// it does not refuse data shorter than a module's magic.
func DecompressBytes(data []byte, maxSize int64) ([]byte, error) {
	comp := Sniff(data)
	if comp == None {
		if int64(len(data)) > maxSize {
			return nil, tooLarge(None, maxSize)
		}
		return data, nil
	}
	img, err := Decompress(bytes.NewReader(data), int64(len(data)), comp, maxSize)
	if err != nil {
		return nil, fmt.Errorf("decompressing module: %w", err)
	}
	return img, nil
}

// SniffFile returns the compression of the open module file f, from its
// first six bytes, as libkmod's kmod_file_open does; a shorter file is
// ENOEXEC. path names the file in errors.
func SniffFile(f *os.File, path string) (Compression, error) {
	return sniffAt(f, path)
}

// sniffAt is SniffFile for any file read at offsets.
func sniffAt(f io.ReaderAt, path string) (Compression, error) {
	var head [6]byte
	if n, err := f.ReadAt(head[:], 0); n < len(head) {
		if err != nil && !errors.Is(err, io.EOF) {
			return None, fmt.Errorf("reading %s: %w", path, err)
		}
		return None, fmt.Errorf("%s: file too short to be a module: %w", path, syscall.ENOEXEC)
	}
	return Sniff(head[:]), nil
}

// ReadImage returns the ELF image of the open module file f, decompressed
// if comp says so, within maxSize bytes. path names the file in errors.
func ReadImage(f *os.File, path string, comp Compression, maxSize int64) ([]byte, error) {
	return readImage(nil, f, path, comp, maxSize)
}

// readImage is ReadImage, decoding into out where it can (see Buffer;
// nil allocates).
func readImage(out *Buffer, f *os.File, path string, comp Compression, maxSize int64) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return decodeFile(out, f, st.Size(), path, comp, maxSize)
}

// decodeFile returns the ELF image of the module file f of size bytes,
// decompressed into out (nil allocates) when comp says so.
func decodeFile(out *Buffer, f io.ReaderAt, size int64, path string, comp Compression, maxSize int64) ([]byte, error) {
	image, err := decompress(out, f, size, comp, maxSize)
	if err != nil {
		verb := "reading"
		if comp != None {
			verb = "decompressing"
		}
		return nil, fmt.Errorf("%s %s: %w", verb, path, err)
	}
	return image, nil
}

// Map returns a module file's ELF image like ReadFile, but maps a plain
// (uncompressed) file instead of copying it. The image is valid until
// release is called.
func Map(path string, maxSize int64) (image []byte, release func(), err error) {
	return (*Buffer)(nil).Map(path, maxSize)
}

// readBelow is the size up to which Buffer.Map reads a plain file into
// its Buffer rather than mapping it: copying a small file costs less than
// a mapping, its page faults and its teardown, which in a process of
// several threads waits on the other CPUs' TLB shootdowns. Nine in ten of
// Debian 12's modules are smaller; the Buffer stays this small unless a
// compressed module makes it grow.
const readBelow = 256 << 10

// Map is the package's Map, decoding a compressed file into b; a nil b
// allocates. A plain file of up to readBelow bytes is read into a non-nil
// b. release is never nil. The file is opened once: its magic is
// read and, for a plain file, the same descriptor mapped.
func (b *Buffer) Map(path string, maxSize int64) (image []byte, release func(), err error) {
	f, comp, err := openModule(path)
	if err != nil {
		return nil, noRelease, err
	}
	defer f.Close()
	if comp == None && b != nil && f.Size() <= min(readBelow, maxSize) {
		image = b.take(f.Size())
		if err := ReadAtFull(f, image, 0); err != nil {
			return nil, noRelease, fmt.Errorf("reading %s: %w", path, err)
		}
		return image, noRelease, nil
	}
	if comp == None && f.Size() <= maxSize {
		// Mapped, not copied. (A compressed file is read: mapping it
		// would cost a mapping and its teardown per module.)
		data, unmap, err := f.Map(maxSize)
		if err != nil {
			return nil, noRelease, fmt.Errorf("reading %s: %w", path, err)
		}
		if data != nil {
			return data, func() { _ = unmap() }, nil
		}
	}
	image, err = decodeFile(b, f, f.Size(), path, comp, maxSize)
	if err != nil {
		return nil, noRelease, err
	}
	return image, noRelease, nil
}

// noRelease is the release of an image that needs none.
func noRelease() {}
