package modprobe

import "github.com/gokmod/modprobe/internal/modfile"

// ReadModuleFile returns the ELF image in a module file: the file itself,
// or its contents decompressed when it is gzip, xz or zstd (told by its
// magic bytes, never its name), as a Loader's userspace path reads it.
// maxSize bounds the image (ErrTooLarge beyond); zero or less means
// DefaultMaxModuleSize. A file shorter than a module's magic fails with
// ENOEXEC.
func ReadModuleFile(path string, maxSize int64) ([]byte, error) {
	return modfile.ReadFile(path, moduleLimit(maxSize))
}

// DecompressModule returns the ELF image in data, the bytes of a module
// file already read: data itself when it is not gzip, xz or zstd (told by
// its magic bytes, as ReadModuleFile tells them), else its decompressed
// contents. maxSize bounds the image (ErrTooLarge beyond); zero or less
// means DefaultMaxModuleSize. Unlike ReadModuleFile it does not refuse
// data shorter than a module's magic.
func DecompressModule(data []byte, maxSize int64) ([]byte, error) {
	return modfile.DecompressBytes(data, moduleLimit(maxSize))
}

// MapModuleFile returns a module file's ELF image like ReadModuleFile, but
// maps a plain (uncompressed) file instead of copying it. The image is
// valid until release is called.
func MapModuleFile(path string, maxSize int64) (image []byte, release func(), err error) {
	return modfile.Map(path, moduleLimit(maxSize))
}

// moduleLimit returns maxSize, or DefaultMaxModuleSize when it is zero or
// less.
func moduleLimit(maxSize int64) int64 {
	if maxSize <= 0 {
		return DefaultMaxModuleSize
	}
	return maxSize
}
