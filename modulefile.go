package modprobe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/gokmod/modprobe/internal/fileio"
)

// ReadModuleFile returns the ELF image in a module file: the file itself,
// or its contents decompressed when it is gzip, xz or zstd (told by its
// magic bytes, never its name), as a Loader's userspace path reads it.
// maxSize bounds the image (ErrTooLarge beyond); zero or less means
// DefaultMaxModuleSize. A file shorter than a module's magic fails with
// ENOEXEC.
func ReadModuleFile(path string, maxSize int64) ([]byte, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxModuleSize
	}
	f, err := fileio.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	comp, err := sniffFile(f, path)
	if err != nil {
		return nil, err
	}
	return readImage(f, path, comp, maxSize)
}

// DecompressModule returns the ELF image in data, the bytes of a module
// file already read: data itself when it is not gzip, xz or zstd (told by
// its magic bytes, as ReadModuleFile tells them), else its decompressed
// contents. maxSize bounds the image (ErrTooLarge beyond); zero or less
// means DefaultMaxModuleSize. Unlike ReadModuleFile it does not refuse
// data shorter than a module's magic.
func DecompressModule(data []byte, maxSize int64) ([]byte, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxModuleSize
	}
	comp := sniffCompression(data)
	if comp == compNone {
		if int64(len(data)) > maxSize {
			return nil, tooLarge(compNone, maxSize)
		}
		return data, nil
	}
	img, err := decompress(bytes.NewReader(data), int64(len(data)), comp, maxSize)
	if err != nil {
		return nil, fmt.Errorf("decompressing module: %w", err)
	}
	return img, nil
}

// sniffFile returns the compression of the open module file f, from its
// first six bytes, as libkmod's kmod_file_open does; a shorter file is
// ENOEXEC.
func sniffFile(f *os.File, path string) (compression, error) {
	var head [6]byte
	if n, err := f.ReadAt(head[:], 0); n < len(head) {
		if err != nil && !errors.Is(err, io.EOF) {
			return compNone, fmt.Errorf("reading %s: %w", path, err)
		}
		return compNone, fmt.Errorf("%s: file too short to be a module: %w", path, syscall.ENOEXEC)
	}
	return sniffCompression(head[:]), nil
}

// readImage returns the ELF image of the open module file f, decompressed
// if comp says so, within maxSize bytes.
func readImage(f *os.File, path string, comp compression, maxSize int64) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	image, err := decompress(f, st.Size(), comp, maxSize)
	if err != nil {
		verb := "reading"
		if comp != compNone {
			verb = "decompressing"
		}
		return nil, fmt.Errorf("%s %s: %w", verb, path, err)
	}
	return image, nil
}

// MapModuleFile returns a module file's ELF image like ReadModuleFile, but
// maps a plain (uncompressed) file instead of copying it. The image is
// valid until release is called.
func MapModuleFile(path string, maxSize int64) (image []byte, release func(), err error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxModuleSize
	}
	data, _, unmap, err := fileio.Map(path, maxSize)
	if err == nil && len(data) >= 6 && sniffCompression(data[:6]) == compNone {
		return data, func() { _ = unmap() }, nil
	}
	if unmap != nil {
		_ = unmap()
	}
	image, err = ReadModuleFile(path, maxSize)
	return image, func() {}, err
}
