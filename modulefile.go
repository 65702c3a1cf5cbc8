package modprobe

import (
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
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var head [6]byte
	if n, err := f.ReadAt(head[:], 0); n < len(head) {
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		return nil, fmt.Errorf("%s: file too short to be a module: %w", path, syscall.ENOEXEC)
	}
	image, err := decompress(f, st.Size(), sniffCompression(head[:]), maxSize)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
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
