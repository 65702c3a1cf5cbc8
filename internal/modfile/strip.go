package modfile

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"syscall"
)

// The forced loads of kmod's init_module path edit a copy of the module
// image: --force-modversion hides the __versions section from the kernel
// (its SHF_ALLOC flag is cleared) and --force-vermagic blanks the
// vermagic= string in .modinfo. A malformed image is reported, never a
// panic: debug/elf checks the headers and every offset is checked again
// here against the image.

// elfSection finds the named section of a module image and returns the
// offset of the byte holding SHF_ALLOC in its header's flags, and the
// section's file range.
func elfSection(image []byte, name string) (allocByte int, start, end int, err error) {
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%w: %v", syscall.ENOEXEC, err)
	}
	defer f.Close()
	var shoff uint64
	var shentsize uint64
	switch f.Class {
	case elf.ELFCLASS64:
		if len(image) < 64 {
			return 0, 0, 0, syscall.ENOEXEC
		}
		shoff = f.ByteOrder.Uint64(image[0x28:])
		shentsize = uint64(f.ByteOrder.Uint16(image[0x3a:]))
	case elf.ELFCLASS32:
		if len(image) < 52 {
			return 0, 0, 0, syscall.ENOEXEC
		}
		shoff = uint64(f.ByteOrder.Uint32(image[0x20:]))
		shentsize = uint64(f.ByteOrder.Uint16(image[0x2e:]))
	default:
		return 0, 0, 0, syscall.ENOEXEC
	}
	for i, s := range f.Sections {
		if s.Name != name {
			continue
		}
		// sh_flags follows sh_name and sh_type in both classes.
		hdr := shoff + uint64(i)*shentsize + 8
		if hdr+8 > uint64(len(image)) || s.Offset+s.FileSize > uint64(len(image)) || s.Offset > s.Offset+s.FileSize {
			return 0, 0, 0, syscall.ENOEXEC
		}
		if f.ByteOrder != binary.LittleEndian {
			// the flags word's lowest byte is its last
			if f.Class == elf.ELFCLASS64 {
				hdr += 7
			} else {
				hdr += 3
			}
		}
		return int(hdr), int(s.Offset), int(s.Offset + s.FileSize), nil
	}
	return 0, 0, 0, syscall.ENOENT
}

// stripModversions clears SHF_ALLOC on the __versions section.
func StripModversions(image []byte) error {
	b, _, _, err := elfSection(image, "__versions")
	if err != nil {
		return err
	}
	image[b] &^= byte(elf.SHF_ALLOC)
	return nil
}

// stripVermagic overwrites the vermagic= string of .modinfo with NULs.
func StripVermagic(image []byte) error {
	_, start, end, err := elfSection(image, ".modinfo")
	if err != nil {
		return err
	}
	info := image[start:end]
	for i := 0; i < len(info); {
		n := bytes.IndexByte(info[i:], 0)
		if n < 0 {
			n = len(info) - i
		}
		if bytes.HasPrefix(info[i:i+n], []byte("vermagic=")) {
			clear(info[i : i+n])
			return nil
		}
		i += n + 1
	}
	return syscall.ENOENT
}

// ThisModuleName returns the module's name as the kernel reads it: struct
// module.name in .gnu.linkonce.this_module, the NUL-terminated string at
// offset 24 (64-bit) or 12 (32-bit), at most 56 or 60 bytes. A file's
// name does not change it.
func ThisModuleName(image []byte) (string, error) {
	_, start, end, err := elfSection(image, ".gnu.linkonce.this_module")
	if err != nil {
		return "", err
	}
	off, n := 24, 56
	if image[4] == byte(elf.ELFCLASS32) { // elfSection checked the identification
		off, n = 12, 60
	}
	if end-start < off+1 {
		return "", syscall.ENOEXEC
	}
	b := image[start+off : start+min(end-start, off+n)]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b), nil
}
