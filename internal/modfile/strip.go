package modfile

import (
	"bytes"
	"fmt"
	"syscall"

	"github.com/gokmod/modprobe/internal/elfmod"
)

// The forced loads of kmod's init_module path edit a copy of the module
// image: --force-modversion hides the __versions section from the kernel
// (its SHF_ALLOC flag is cleared) and --force-vermagic blanks the
// vermagic= string in .modinfo. The image is read as libkmod reads it
// (package elfmod: kmod_elf_new's checks, kmod_elf_find_section's
// skipping of invalid section headers); a malformed image is reported,
// never a panic.

// elfSection finds the named section of a module image and returns the
// offset of the byte holding SHF_ALLOC in its header's flags, and the
// section's file range.
func elfSection(image []byte, name string) (allocByte int, start, end int, err error) {
	m, err := elfmod.Parse(image)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%w: %v", syscall.ENOEXEC, err)
	}
	flags, s, e, ok := m.SectionFlagsByte(name)
	if !ok {
		return 0, 0, 0, syscall.ENOENT
	}
	return int(flags), int(s), int(e), nil
}

// stripModversions clears SHF_ALLOC on the __versions section.
func StripModversions(image []byte) error {
	b, _, _, err := elfSection(image, "__versions")
	if err != nil {
		return err
	}
	image[b] &^= elfmod.SHFAlloc
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
	if image[4] == byte(elfmod.Class32) { // elfSection checked the identification
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
