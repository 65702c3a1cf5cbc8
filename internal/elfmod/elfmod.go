// Package elfmod reads the ELF image of a Linux kernel module the way kmod
// 30's libkmod does, without cgo and without writing anything.
//
// # Input
//
// [Parse] takes the whole, already decompressed file contents. The image
// may carry an appended module signature; [ParseSignature] reads that
// trailer from the same bytes.
//
// # Semantics
//
// Every accessor reproduces the matching libkmod function, including its
// quirks, because depmod, modinfo and modprobe output depend on them:
//
//	Module.Modinfo    kmod_elf_get_strings(".modinfo") split at the first '='
//	Module.Versions   kmod_elf_get_modversions (modprobe --show-modversions)
//	Module.Exports    kmod_elf_get_symbols (modprobe --show-exports, depmod)
//	Module.Undefined  kmod_elf_get_dependency_symbols (depmod)
//	ParseSignature    kmod_module_signature_info, PKCS#7 decoded as kmod
//	                  built with libcrypto does
//
// # Errors
//
//	ErrFormat     the image is not a module ELF kmod would accept, or a
//	              section it needs is malformed
//	ErrNoSection  a section the accessor needs is absent (kmod: -ENOENT)
//	ErrNoModinfo  there is no .modinfo section (wraps ErrNoSection too)
//
// Errors are *FormatError values; use errors.Is with the sentinels.
//
// # Security
//
// Module files are untrusted input. Every offset and size read from the
// image is bounds-checked against the image, so malformed input yields an
// error, never a panic or an out-of-range read. Work is linear in the image
// size, names are capped at 4096 bytes, and the package never executes or
// verifies anything: a signature is decoded, not checked.
package elfmod

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// ErrFormat is wrapped by every error caused by an image kmod would reject
// or a section whose layout is invalid.
var ErrFormat = errors.New("invalid module ELF")

// ErrNoSection is wrapped when a section an accessor needs does not exist.
var ErrNoSection = errors.New("section not found")

// ErrNoModinfo is wrapped by Modinfo when the image has no .modinfo
// section (kmod reports -ENODATA to modinfo users).
var ErrNoModinfo error = &wrappedSentinel{msg: "no .modinfo: " + ErrNoSection.Error(), err: ErrNoSection}

// wrappedSentinel is a sentinel error wrapping another, as fmt.Errorf's
// %w would, made without fmt: a package variable's value is computed at
// every process's start.
type wrappedSentinel struct {
	msg string
	err error
}

func (e *wrappedSentinel) Error() string { return e.msg }
func (e *wrappedSentinel) Unwrap() error { return e.err }

// FormatError describes why an image or one of its sections was rejected.
// Offset is the byte offset in the image the problem was found at, or -1.
type FormatError struct {
	Section string // section concerned, "" for the ELF headers
	Offset  int64
	Msg     string
	Err     error // ErrFormat, ErrNoSection or ErrNoModinfo
}

// Error implements error.
func (e *FormatError) Error() string {
	s := "elfmod: "
	if e.Section != "" {
		s += e.Section + ": "
	}
	s += e.Msg
	if e.Offset >= 0 {
		s += fmt.Sprintf(" at offset %#x", e.Offset)
	}
	return s
}

// Unwrap returns the sentinel error.
func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(section string, off uint64, format string, args ...any) error {
	o := int64(-1)
	if off <= 1<<62 {
		o = int64(off)
	}
	return &FormatError{Section: section, Offset: o, Msg: fmt.Sprintf(format, args...), Err: ErrFormat}
}

func missing(section string, sentinel error) error {
	return &FormatError{Section: section, Offset: -1, Msg: "section not found", Err: sentinel}
}

// Module is a parsed module image. It keeps a reference to the image
// passed to Parse, which must not be modified while the Module is in use.
// A Module is safe for concurrent use.
type Module struct {
	img     []byte
	size    uint64 // the file's size, which section data lies within: len(img) but in ReadModinfo
	is64    bool
	bo      binary.ByteOrder
	le64    bool // is64, little-endian: sym's direct path
	shoff   uint64
	shnum   uint16
	machine uint16
	strOff  uint64 // section-name string table
	strSize uint64
}

// KeyValue is one .modinfo entry.
type KeyValue struct {
	Key, Value string
}

// Symbol is a symbol with its modversions CRC.
//
// Bind is the ELF binding (STBLocal, STBGlobal, STBWeak or
// another raw value) for Exports taken from .symtab; STBGlobal for
// exports read from __ksymtab_strings and for Versions entries; and
// STBWeak or STBGlobal for Undefined symbols.
type Symbol struct {
	CRC  uint64
	Name string
	Bind byte
}

const (
	ehdr32Size = 52
	ehdr64Size = 64
	shdr32Size = 40
	shdr64Size = 64
	sym32Size  = 16
	sym64Size  = 24
	versionLen = 64
	stRegister = 13 // STT_REGISTER (SPARC)
)

// Parse checks the ELF identification and section header table of a
// module image the way kmod_elf_new does and returns a Module reading
// from image. It does not copy image.
func Parse(image []byte) (*Module, error) {
	m, shstrndx, err := parseHeader(image, uint64(len(image)))
	if err != nil {
		return nil, err
	}
	m.img = image
	off, size, err := m.nameTable(shstrndx)
	if err != nil {
		return nil, err
	}
	if image[off+size-1] != 0 {
		return nil, formatErr("", off, "section name table not NUL-terminated")
	}
	m.strOff, m.strSize = off, size
	return m, nil
}

// parseHeader checks the ELF header of a file of size bytes whose first
// bytes (up to the ELF header's size, or all of a shorter file) are head,
// and that its section header table lies inside the file, the way
// kmod_elf_new does. It returns the Module without its image, and the
// index of the section name table.
func parseHeader(head []byte, size uint64) (m *Module, shstrndx uint16, err error) {
	if size <= eiNIdent || !bytes.HasPrefix(head, []byte(ELFMag)) {
		return nil, 0, formatErr("", 0, "bad ELF magic")
	}
	m = &Module{img: head, size: size}
	var shdrSize uint64
	switch head[eiClass] {
	case class32:
		if size <= ehdr32Size {
			return nil, 0, formatErr("", 0, "truncated ELF header")
		}
		shdrSize = shdr32Size
	case class64:
		if size <= ehdr64Size {
			return nil, 0, formatErr("", 0, "truncated ELF header")
		}
		m.is64 = true
		shdrSize = shdr64Size
	default:
		return nil, 0, formatErr("", eiClass, "unknown ELF class %d", head[eiClass])
	}
	switch head[eiData] {
	case data2LSB:
		m.bo = binary.LittleEndian
	case data2MSB:
		m.bo = binary.BigEndian
	default:
		return nil, 0, formatErr("", eiData, "unknown ELF data encoding %d", head[eiData])
	}
	m.le64 = m.is64 && m.bo == binary.ByteOrder(binary.LittleEndian)

	var shentsize, strndx uint64
	if m.is64 {
		m.shoff, _ = m.uint(0x28, 8)
		n, _ := m.uint(0x3c, 2)
		m.shnum = uint16(n)
		shentsize, _ = m.uint(0x3a, 2)
		strndx, _ = m.uint(0x3e, 2)
	} else {
		m.shoff, _ = m.uint(0x20, 4)
		n, _ := m.uint(0x30, 2)
		m.shnum = uint16(n)
		shentsize, _ = m.uint(0x2e, 2)
		strndx, _ = m.uint(0x32, 2)
	}
	mach, _ := m.uint(0x12, 2)
	m.machine = uint16(mach)

	if shentsize != shdrSize {
		return nil, 0, formatErr("", 0, "section header size %d, want %d", shentsize, shdrSize)
	}
	end, ok := add(m.shoff, m.shdrSize()*uint64(m.shnum))
	if !ok || end > size {
		return nil, 0, formatErr("", m.shoff, "section header table beyond end of file")
	}
	return m, uint16(strndx), nil
}

// shdrSize is the size of one section header.
func (m *Module) shdrSize() uint64 {
	if m.is64 {
		return shdr64Size
	}
	return shdr32Size
}

// nameTable returns the file range of the section name table, section
// shstrndx, once its header is readable (Parse's checks but the last:
// the table's last byte is a NUL).
func (m *Module) nameTable(shstrndx uint16) (off, size uint64, err error) {
	off, size, _, ok := m.section(shstrndx)
	if !ok {
		return 0, 0, formatErr("", m.shoff, "invalid section name table index %d", shstrndx)
	}
	if size == 0 {
		return 0, 0, formatErr("", off, "section name table not NUL-terminated")
	}
	return off, size, nil
}

// Class returns the ELF class of the image.
func (m *Module) Class() Class {
	if m.is64 {
		return Class64
	}
	return Class32
}

// ByteOrder returns the byte order of the image.
func (m *Module) ByteOrder() binary.ByteOrder { return m.bo }

// Machine returns e_machine (debug/elf's Machine numbers).
func (m *Module) Machine() uint16 { return m.machine }

func add(a, b uint64) (uint64, bool) {
	s := a + b
	return s, s >= a
}

// uint reads an n-byte unsigned integer at off; ok is false when it does
// not fit in the image.
func (m *Module) uint(off uint64, n int) (uint64, bool) {
	end, ok := add(off, uint64(n))
	if !ok || end > uint64(len(m.img)) {
		return 0, false
	}
	b := m.img[off:end]
	switch n {
	case 1:
		return uint64(b[0]), true
	case 2:
		return uint64(m.bo.Uint16(b)), true
	case 4:
		return uint64(m.bo.Uint32(b)), true
	default:
		return m.bo.Uint64(b), true
	}
}

// maxName bounds the length of a symbol or section name. kmod reads up to
// the next NUL wherever it is; capping keeps work linear on hostile input
// and is far above any real name (KSYM_NAME_LEN is 512).
const maxName = 4096

// nameBytes returns the NUL-terminated string at off without copying; like
// libkmod it may extend past the section it starts in, but never past the
// image, nor beyond maxName bytes.
func (m *Module) nameBytes(off uint64) []byte {
	if off >= uint64(len(m.img)) {
		return nil
	}
	b := m.img[off:]
	if len(b) > maxName {
		b = b[:maxName]
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return b
}

// cstring is nameBytes as a string.
func (m *Module) cstring(off uint64) string { return string(m.nameBytes(off)) }

// section returns offset, size and name offset of section idx, with kmod's
// checks: idx must be neither SHN_UNDEF nor out of range, and the section
// data must lie inside the image.
func (m *Module) section(idx uint16) (off, size uint64, nameoff uint32, ok bool) {
	if idx == 0 || idx >= m.shnum {
		return 0, 0, 0, false
	}
	var hsize uint64 = shdr32Size
	if m.is64 {
		hsize = shdr64Size
	}
	h := m.shoff + uint64(idx)*hsize // in range: checked by Parse
	var n uint64
	switch {
	case m.le64 && h+shdr64Size <= uint64(len(m.img)):
		// Read directly, as sym does: findSection reads every header
		// for every section it looks for.
		b := m.img[h : h+shdr64Size : h+shdr64Size]
		n = uint64(binary.LittleEndian.Uint32(b[0:4]))
		off = binary.LittleEndian.Uint64(b[0x18:0x20])
		size = binary.LittleEndian.Uint64(b[0x20:0x28])
	case m.is64:
		n, _ = m.uint(h, 4)
		off, _ = m.uint(h+0x18, 8)
		size, _ = m.uint(h+0x20, 8)
	default:
		n, _ = m.uint(h, 4)
		off, _ = m.uint(h+0x10, 4)
		size, _ = m.uint(h+0x14, 4)
	}
	end, okEnd := add(off, size)
	if !okEnd || end > m.size {
		return 0, 0, 0, false
	}
	return off, size, uint32(n), true
}

// findSection returns the first section named name, skipping invalid
// section headers as kmod_elf_get_section does.
func (m *Module) findSection(name string) (off, size uint64, found bool) {
	_, off, size, found = m.findSectionIndex(name)
	return off, size, found
}

// findSectionIndex is findSection with the section's index.
func (m *Module) findSectionIndex(name string) (idx uint16, off, size uint64, found bool) {
	for i := uint16(1); i < m.shnum; i++ {
		o, s, n, ok := m.section(i)
		if !ok || uint64(n) >= m.strSize {
			continue
		}
		if string(m.nameBytes(m.strOff+uint64(n))) == name {
			return i, o, s, true
		}
	}
	return 0, 0, 0, false
}

// SectionFlagsByte returns, for the first section named name (found as
// kmod_elf_find_section finds it, invalid headers skipped), the offset in
// the image of the byte of its header's sh_flags that holds SHF_ALLOC
// (the flags word's least significant byte), and the section's file
// range [start, end). ok is false when there is no such section.
func (m *Module) SectionFlagsByte(name string) (flags, start, end uint64, ok bool) {
	idx, off, size, ok := m.findSectionIndex(name)
	if !ok {
		return 0, 0, 0, false
	}
	// sh_flags follows sh_name and sh_type in both classes: a word of 8
	// bytes (64-bit) or 4 (32-bit), its low byte first or last.
	var hsize, width uint64 = shdr32Size, 4
	if m.is64 {
		hsize, width = shdr64Size, 8
	}
	flags = m.shoff + uint64(idx)*hsize + 8
	if m.bo != binary.ByteOrder(binary.LittleEndian) {
		flags += width - 1
	}
	return flags, off, off + size, true
}

// SectionSize returns the size of the first section named name, as
// findSection finds it.
func (m *Module) SectionSize(name string) (uint64, bool) {
	_, size, ok := m.findSection(name)
	return size, ok
}

// stringsOf splits a section into strings as kmod_elf_get_strings does:
// leading NULs are skipped (a single remaining byte yields nothing), runs
// of NULs separate strings and the last string need not be terminated.
func stringsOf(b []byte) []string {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) <= 1 {
		return nil
	}
	var out []string
	for _, f := range bytes.Split(b, []byte{0}) {
		if len(f) > 0 {
			out = append(out, string(f))
		}
	}
	return out
}

// Modinfo returns the .modinfo strings with kmod's rules: leading NULs are
// skipped, runs of NULs collapsed, the last string NUL-forced; a string
// without '=' has key = the whole string and value "". Order is kept.
// A missing section gives an error wrapping ErrNoModinfo.
func (m *Module) Modinfo() ([]KeyValue, error) {
	off, size, ok := m.findSection(".modinfo")
	if !ok {
		return nil, missing(".modinfo", ErrNoModinfo)
	}
	return modinfoEntries(m.img[off : off+size]), nil
}

// modinfoEntries returns the entries of a .modinfo section's bytes.
func modinfoEntries(b []byte) []KeyValue {
	strs := stringsOf(b)
	kv := make([]KeyValue, 0, len(strs))
	for _, s := range strs {
		k, v, _ := strings.Cut(s, "=")
		kv = append(kv, KeyValue{Key: k, Value: v})
	}
	return kv
}

func (m *Module) crcSize() uint64 {
	if m.is64 {
		return 8
	}
	return 4
}

// Versions returns the __versions entries as kmod_elf_get_modversions
// does: a CRC (u32 on 32-bit classes, u64 on 64-bit ones) followed by a
// name filling the rest of a 64-byte record, in section order, with one
// leading '.' removed from names. Bind is STBGlobal. A missing
// section gives an error wrapping ErrNoSection; an empty one gives none.
func (m *Module) Versions() ([]Symbol, error) {
	off, size, ok := m.findSection("__versions")
	if !ok {
		return nil, missing("__versions", ErrNoSection)
	}
	if size == 0 {
		return nil, nil
	}
	if size%versionLen != 0 {
		return nil, formatErr("__versions", off, "size %d is not a multiple of %d", size, versionLen)
	}
	crcLen := m.crcSize()
	out := make([]Symbol, 0, size/versionLen)
	for p := off; p < off+size; p += versionLen {
		crc, _ := m.uint(p, int(crcLen))
		name := m.cstring(p + crcLen)
		if len(name) > 0 && name[0] == '.' {
			name = name[1:]
		}
		out = append(out, Symbol{CRC: crc, Name: name, Bind: STBGlobal})
	}
	return out, nil
}

// rawSym is the part of an ELF symbol kmod looks at.
type rawSym struct {
	name  uint32
	value uint64
	info  byte
	shndx uint16
}

type symtab struct {
	symOff, count   uint64
	strOff, strSize uint64
}

// symtab locates .strtab and .symtab; ok is false if either is missing or
// .symtab's size is not a multiple of the symbol size.
func (m *Module) symtab() (t symtab, err error) {
	var ok bool
	var symSize uint64
	if t.strOff, t.strSize, ok = m.findSection(".strtab"); !ok {
		return t, missing(".strtab", ErrNoSection)
	}
	if t.symOff, symSize, ok = m.findSection(".symtab"); !ok {
		return t, missing(".symtab", ErrNoSection)
	}
	if symSize%m.symLen() != 0 {
		return t, formatErr(".symtab", t.symOff, "size %d is not a multiple of %d", symSize, m.symLen())
	}
	t.count = symSize / m.symLen()
	return t, nil
}

func (m *Module) symLen() uint64 {
	if m.is64 {
		return sym64Size
	}
	return sym32Size
}

func (m *Module) sym(t symtab, i uint64) rawSym {
	p := t.symOff + i*m.symLen()
	if end, ok := add(p, sym64Size); ok && m.le64 && end <= uint64(len(m.img)) {
		// An x86-64 or arm64 module's symbol, whole in the image: its
		// fields read directly, without the byte order's indirect calls
		// (depmod reads every symbol of every module).
		b := m.img[p:end:end]
		return rawSym{
			name:  binary.LittleEndian.Uint32(b[0:4]),
			info:  b[4],
			shndx: binary.LittleEndian.Uint16(b[6:8]),
			value: binary.LittleEndian.Uint64(b[8:16]),
		}
	}
	var s rawSym
	n, _ := m.uint(p, 4)
	s.name = uint32(n)
	var info, shndx uint64
	if m.is64 {
		info, _ = m.uint(p+4, 1)
		shndx, _ = m.uint(p+6, 2)
		s.value, _ = m.uint(p+8, 8)
	} else {
		s.value, _ = m.uint(p+4, 4)
		info, _ = m.uint(p+12, 1)
		shndx, _ = m.uint(p+14, 2)
	}
	s.info, s.shndx = byte(info), uint16(shndx)
	return s
}

// Exports returns the symbols the module exports as kmod_elf_get_symbols
// does: every .symtab symbol named __crc_NAME (in table order) gives NAME
// with its CRC, taken from st_value for SHN_ABS/SHN_UNDEF symbols and
// otherwise read as a u32 at offset st_value of section st_shndx
// (0xffffffffffffffff when that is impossible). When there is no such
// symbol, or .symtab/.strtab are missing or invalid, every non-empty
// string of __ksymtab_strings is returned with CRC 0 and Bind STB_GLOBAL.
func (m *Module) Exports() ([]Symbol, error) {
	if out, ok := m.crcExports(); ok {
		return out, nil
	}
	off, size, ok := m.findSection("__ksymtab_strings")
	if !ok {
		return nil, missing("__ksymtab_strings", ErrNoSection)
	}
	strs := stringsOf(m.img[off : off+size])
	out := make([]Symbol, 0, len(strs))
	for _, s := range strs {
		out = append(out, Symbol{Name: s, Bind: STBGlobal})
	}
	return out, nil
}

func (m *Module) crcExports() ([]Symbol, bool) {
	const prefix = "__crc_"
	t, err := m.symtab()
	if err != nil {
		return nil, false
	}
	var out []Symbol
	for i := uint64(1); i < t.count; i++ {
		s := m.sym(t, i)
		if uint64(s.name) >= t.strSize {
			return nil, false
		}
		name := m.nameBytes(t.strOff + uint64(s.name))
		if !bytes.HasPrefix(name, []byte(prefix)) {
			continue
		}
		out = append(out, Symbol{
			CRC:  m.resolveCRC(s.value, s.shndx),
			Name: string(name[len(prefix):]),
			Bind: s.info >> 4,
		})
	}
	return out, len(out) > 0
}

func (m *Module) resolveCRC(v uint64, shndx uint16) uint64 {
	const bad = ^uint64(0)
	if shndx == shnAbs || shndx == shnUndef {
		return v
	}
	off, size, _, ok := m.section(shndx)
	if !ok {
		return bad
	}
	if v > size-4 { // wraps for size < 4, as in kmod
		return bad
	}
	p, okAdd := add(off, v)
	if !okAdd {
		return bad
	}
	crc, ok := m.uint(p, 4)
	if !ok {
		return bad
	}
	return crc
}

// Undefined returns the symbols kmod_elf_get_dependency_symbols returns:
// every undefined (SHN_UNDEF), non-empty-named .symtab symbol in table
// order (except STT_REGISTER ones on SPARC), with the CRC of the first
// __versions entry of the same name (0 if none) and Bind STBWeak for
// weak symbols, STBGlobal otherwise; then every __versions entry no
// symbol matched (such as module_layout), with its CRC and STB_GLOBAL.
// A __versions section of invalid size is ignored, as kmod does.
func (m *Module) Undefined() ([]Symbol, error) {
	var verOff, verCount uint64
	crcLen := m.crcSize()
	if off, size, ok := m.findSection("__versions"); ok && size%versionLen == 0 {
		verOff, verCount = off, size/versionLen
	}
	t, err := m.symtab()
	if err != nil {
		return nil, err
	}
	first := make(map[string]uint64, verCount)
	for i := verCount; i > 0; i-- {
		first[m.cstring(verOff+(i-1)*versionLen+crcLen)] = i - 1
	}
	visited := make([]bool, verCount)
	sparc := m.machine == emSPARC || m.machine == emSPARCV9

	var out []Symbol
	for i := uint64(1); i < t.count; i++ {
		s := m.sym(t, i)
		if s.shndx != shnUndef {
			continue
		}
		if sparc && s.info&0xf == stRegister {
			continue
		}
		if uint64(s.name) >= t.strSize {
			return nil, formatErr(".symtab", t.symOff+i*m.symLen(), "symbol %d name offset %d beyond .strtab", i, s.name)
		}
		name := m.cstring(t.strOff + uint64(s.name))
		if name == "" {
			continue
		}
		var crc uint64
		if j, ok := first[name]; ok {
			visited[j] = true
			crc, _ = m.uint(verOff+j*versionLen, int(crcLen))
		}
		bind := STBGlobal
		if s.info>>4 == STBWeak {
			bind = STBWeak
		}
		out = append(out, Symbol{CRC: crc, Name: name, Bind: bind})
	}
	for j := uint64(0); j < verCount; j++ {
		if visited[j] {
			continue
		}
		p := verOff + j*versionLen
		crc, _ := m.uint(p, int(crcLen))
		out = append(out, Symbol{CRC: crc, Name: m.cstring(p + crcLen), Bind: STBGlobal})
	}
	return out, nil
}

// ThisModuleName returns struct module.name from .gnu.linkonce.this_module:
// the NUL-terminated string at offset 24 (64-bit) or 12 (32-bit), at most
// 56 or 60 bytes long. kmod itself never reads it; the kernel does.
func (m *Module) ThisModuleName() (string, error) {
	const sec = ".gnu.linkonce.this_module"
	off, size, ok := m.findSection(sec)
	if !ok {
		return "", missing(sec, ErrNoSection)
	}
	start, n := uint64(12), uint64(60)
	if m.is64 {
		start, n = 24, 56
	}
	if size < start+1 {
		return "", formatErr(sec, off, "section too small (%d bytes) for the module name", size)
	}
	b := m.img[off+start : off+min(size, start+n)]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b), nil
}
