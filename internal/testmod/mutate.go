package testmod

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/gokmod/modprobe/internal/modsig"
)

// Mutations of a real module's ELF image, for tests that need a module
// the kernel refuses in one known way (preflight's, on the host and in the
// VM). Each returns a new image and leaves its input alone. A signed
// module changed this way no longer verifies, which the kernel refuses
// even when it does not enforce signatures: Unsigned first.

// Unsigned returns the image without its signature, as the kernel sees a
// module nobody signed; an unsigned image is returned as it is.
func Unsigned(img []byte) []byte {
	body, _, err := modsig.Split(img)
	if err != nil {
		return img
	}
	return bytes.Clone(body)
}

// WithVersionCRC returns the image with the CRC of symbol's __versions
// entry set to crc.
func WithVersionCRC(img []byte, symbol string, crc uint64) ([]byte, error) {
	off, entries, err := versionsAt(img)
	if err != nil {
		return nil, err
	}
	for i, v := range entries {
		if v.name == symbol {
			out := bytes.Clone(img)
			binary.LittleEndian.PutUint64(out[off+uint64(i)*64:], crc)
			return out, nil
		}
	}
	return nil, fmt.Errorf("no __versions entry for %s", symbol)
}

// WithString returns the image with every occurrence of old replaced by
// new, which must be as long: a symbol renamed in .strtab and __versions
// (old and new ending in a NUL), a .modinfo entry changed in place.
func WithString(img []byte, old, new string) ([]byte, error) {
	if len(old) != len(new) {
		return nil, fmt.Errorf("%q and %q differ in length", old, new)
	}
	if !bytes.Contains(img, []byte(old)) {
		return nil, fmt.Errorf("%q is not in the image", old)
	}
	return bytes.ReplaceAll(img, []byte(old), []byte(new)), nil
}
