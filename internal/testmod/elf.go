package testmod

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
)

// Class selects the ELF class, byte order and default machine of a module.
// The zero value is the x86-64 layout every test should use unless it is
// specifically about another word size or byte order.
type Class int

const (
	// ELF64LSB is 64-bit little-endian, EM_X86_64 (the default).
	ELF64LSB Class = iota
	// ELF32LSB is 32-bit little-endian, EM_386.
	ELF32LSB
	// ELF64MSB is 64-bit big-endian, EM_S390 (s390x).
	ELF64MSB
	// ELF32MSB is 32-bit big-endian, EM_PPC.
	ELF32MSB
)

// String returns a short name such as "ELF64LSB".
func (c Class) String() string {
	switch c {
	case ELF64LSB:
		return "ELF64LSB"
	case ELF32LSB:
		return "ELF32LSB"
	case ELF64MSB:
		return "ELF64MSB"
	case ELF32MSB:
		return "ELF32MSB"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// Is64 reports whether c is an ELFCLASS64 class.
func (c Class) Is64() bool { return c == ELF64LSB || c == ELF64MSB }

// ByteOrder returns the byte order of c.
func (c Class) ByteOrder() binary.ByteOrder {
	if c == ELF64MSB || c == ELF32MSB {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// DefaultMachine returns the e_machine written when Module.Machine is zero.
func (c Class) DefaultMachine() elf.Machine {
	switch c {
	case ELF32LSB:
		return elf.EM_386
	case ELF64MSB:
		return elf.EM_S390
	case ELF32MSB:
		return elf.EM_PPC
	}
	return elf.EM_X86_64
}

func (c Class) valid() bool { return c >= ELF64LSB && c <= ELF32MSB }

// ExportStyle selects how a module records the symbols it exports. Every
// style writes the __ksymtab and __ksymtab_strings sections a 6.x kernel
// module carries; the styles differ in whether and how symbol CRCs
// (CONFIG_MODVERSIONS) are recorded, which decides the code path kmod 30's
// kmod_elf_get_symbols takes.
type ExportStyle int

const (
	// ExportPlain writes no __crc_* symbols, as a kernel built without
	// CONFIG_MODVERSIONS does. kmod then falls back to reading exported
	// names from __ksymtab_strings, where every non-empty string counts,
	// including namespace names (see Module.ExportNamespace).
	ExportPlain ExportStyle = iota
	// ExportKcrctab writes CRCs the way Linux >= 5.19 does with
	// CONFIG_MODVERSIONS=y: a __kcrctab section of 32-bit CRCs and one
	// local __crc_<sym> symbol per export whose st_value is the offset of
	// its CRC inside __kcrctab. kmod uses only the __crc_ symbols then.
	ExportKcrctab
	// ExportAbsCRC writes CRCs the pre-5.19 way: global __crc_<sym>
	// symbols in SHN_ABS whose st_value is the CRC itself.
	ExportAbsCRC
)

// String returns the constant's name.
func (s ExportStyle) String() string {
	switch s {
	case ExportPlain:
		return "ExportPlain"
	case ExportKcrctab:
		return "ExportKcrctab"
	case ExportAbsCRC:
		return "ExportAbsCRC"
	}
	return fmt.Sprintf("ExportStyle(%d)", int(s))
}

// VersionEntry is one record of the __versions section (CONFIG_MODVERSIONS):
// the CRC a module expects for a symbol it imports. On 64-bit classes a
// record is an 8-byte CRC followed by a 56-byte NUL-padded name; on 32-bit
// classes a 4-byte CRC and a 60-byte name.
type VersionEntry struct {
	CRC  uint64
	Name string
}

// Module describes one synthetic kernel module. The zero value plus a Name
// is a valid (if featureless) x86-64 module.
type Module struct {
	// Name is the module name stored in struct module.name inside
	// .gnu.linkonce.this_module (see ThisModuleNameOffset). Kbuild stores
	// KBUILD_MODNAME there, i.e. the file name with '-' turned into '_'.
	// kmod itself never reads it (it derives names from file paths), but
	// the kernel does. Tree.Write fills it in from the path when empty.
	Name string

	// ModInfo holds raw "key=value" strings written, in order and each
	// NUL-terminated, to .modinfo, exactly as MODULE_INFO() lays them out.
	// The helpers in modinfo.go (Alias, Depends, Softdep, ...) build them.
	ModInfo []string

	// Exports lists the symbols the module exports (EXPORT_SYMBOL). Each
	// one becomes a global function in .text, a __ksymtab entry, a string
	// in __ksymtab_strings and, depending on ExportStyle, a CRC.
	Exports []string
	// ExportStyle selects how exports and their CRCs are recorded.
	ExportStyle ExportStyle
	// ExportCRCs optionally gives the CRC of an exported symbol. Exports
	// without an entry get the IEEE CRC-32 of their name. Ignored by
	// ExportPlain.
	ExportCRCs map[string]uint32
	// ExportNamespace, when not empty, puts every export in that symbol
	// namespace (EXPORT_SYMBOL_NS): the namespace string is written to
	// __ksymtab_strings after each name, as Linux 5.4 and later do.
	ExportNamespace string

	// Uses lists undefined global symbols (STB_GLOBAL, SHN_UNDEF) in
	// .symtab. depmod resolves them against other modules' exports to
	// compute modules.dep.
	Uses []string
	// WeakUses lists undefined weak symbols (STB_WEAK, SHN_UNDEF). depmod
	// still records a dependency when another module exports one, but
	// never warns when none does.
	WeakUses []string

	// Versions, when not empty, is written as the __versions section.
	Versions []VersionEntry

	// Class selects word size and byte order; the zero value is x86-64.
	Class Class
	// Machine overrides e_machine; zero means Class.DefaultMachine().
	Machine elf.Machine
	// ThisModuleSize overrides the size of .gnu.linkonce.this_module;
	// zero means DefaultThisModuleSize(Class).
	ThisModuleSize int

	// Trailer is appended verbatim after the ELF image, e.g. a module
	// signature followed by "~Module signature appended~\n".
	Trailer []byte
}

// ThisModuleNameOffset returns the offset of struct module.name inside
// .gnu.linkonce.this_module and the size of that array (MODULE_NAME_LEN).
//
// struct module starts with "enum module_state state" (4 bytes) followed by
// "struct list_head list" (two pointers, pointer-aligned) and then
// "char name[MODULE_NAME_LEN]" with MODULE_NAME_LEN = 64 - sizeof(unsigned
// long). This prefix has been stable since Linux 2.6 and is what modpost,
// kmod's testsuite modules and e.g. crash(8) rely on, so on 64-bit the name
// sits at 4+4(padding)+16 = 24 (0x18) with room for 56 bytes, and on 32-bit
// at 4+8 = 12 with room for 60 bytes.
func ThisModuleNameOffset(c Class) (offset, size int) {
	if c.Is64() {
		return 24, 56
	}
	return 12, 60
}

// DefaultThisModuleSize returns the default size of
// .gnu.linkonce.this_module: 0x500 bytes for 64-bit classes and 0x300 for
// 32-bit ones. sizeof(struct module) depends on the kernel configuration
// (it is a few hundred bytes to a little over a kilobyte on 6.x kernels);
// these values merely look like a real distribution build. kmod ignores the
// section entirely.
func DefaultThisModuleSize(c Class) int {
	if c.Is64() {
		return 0x500
	}
	return 0x300
}

// Info returns the values of all ModInfo entries whose key is key, in
// order, just as "modinfo -F key" prints them.
func (m *Module) Info(key string) []string {
	var out []string
	for _, kv := range m.ModInfo {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			v = ""
		}
		if k == key {
			out = append(out, v)
		}
	}
	return out
}

// ExportCRC returns the CRC written for exported symbol sym: the
// ExportCRCs entry if there is one, else the IEEE CRC-32 of the name.
func (m *Module) ExportCRC(sym string) uint32 {
	if crc, ok := m.ExportCRCs[sym]; ok {
		return crc
	}
	return crc32.ChecksumIEEE([]byte(sym))
}

// validate checks m for mistakes that would produce a broken or misleading
// image.
func (m *Module) validate() error {
	if !m.Class.valid() {
		return fmt.Errorf("invalid class %v", m.Class)
	}
	if m.ExportStyle < ExportPlain || m.ExportStyle > ExportAbsCRC {
		return fmt.Errorf("invalid export style %v", m.ExportStyle)
	}
	_, nameMax := ThisModuleNameOffset(m.Class)
	switch {
	case m.Name == "":
		return errors.New("module name is empty")
	case len(m.Name) >= nameMax:
		return fmt.Errorf("module name %q is longer than %d bytes", m.Name, nameMax-1)
	case strings.IndexByte(m.Name, 0) >= 0:
		return fmt.Errorf("module name %q contains NUL", m.Name)
	}
	if m.ThisModuleSize < 0 {
		return fmt.Errorf("negative ThisModuleSize %d", m.ThisModuleSize)
	}
	if off, size := ThisModuleNameOffset(m.Class); m.ThisModuleSize != 0 && m.ThisModuleSize < off+size {
		return fmt.Errorf("ThisModuleSize %d cannot hold struct module.name (needs %d)", m.ThisModuleSize, off+size)
	}
	for i, kv := range m.ModInfo {
		if kv == "" {
			return fmt.Errorf("modinfo entry %d is empty", i)
		}
		if strings.IndexByte(kv, 0) >= 0 {
			return fmt.Errorf("modinfo entry %q contains NUL", kv)
		}
	}
	if strings.IndexByte(m.ExportNamespace, 0) >= 0 {
		return fmt.Errorf("export namespace %q contains NUL", m.ExportNamespace)
	}
	// Names the image always defines itself.
	defined := map[string]string{
		"init_module":    "built-in function",
		"cleanup_module": "built-in function",
		"__this_module":  "built-in object",
	}
	for _, group := range []struct {
		what string
		syms []string
	}{{"export", m.Exports}, {"use", m.Uses}, {"weak use", m.WeakUses}} {
		for _, s := range group.syms {
			if s == "" || strings.IndexByte(s, 0) >= 0 {
				return fmt.Errorf("invalid %s symbol name %q", group.what, s)
			}
			if prev, dup := defined[s]; dup {
				return fmt.Errorf("symbol %q listed as %s and as %s", s, prev, group.what)
			}
			defined[s] = group.what
		}
	}
	for sym := range m.ExportCRCs {
		if defined[sym] != "export" {
			return fmt.Errorf("ExportCRCs names %q, which is not exported", sym)
		}
	}
	nameLen := 56
	if !m.Class.Is64() {
		nameLen = 60
	}
	for _, v := range m.Versions {
		if v.Name == "" || strings.IndexByte(v.Name, 0) >= 0 || len(v.Name) >= nameLen {
			return fmt.Errorf("invalid __versions name %q (1..%d bytes, no NUL)", v.Name, nameLen-1)
		}
		if !m.Class.Is64() && v.CRC > 0xffffffff {
			return fmt.Errorf("__versions CRC %#x of %q does not fit a 32-bit class", v.CRC, v.Name)
		}
	}
	return nil
}

// section is one section of the image being built.
type section struct {
	name    string
	typ     elf.SectionType
	flags   elf.SectionFlag
	data    []byte
	link    uint32
	info    uint32
	align   uint64
	entsize uint64
	// symbol requests an STT_SECTION symbol for this section, as ld -r
	// emits for every section that symbols or relocations may refer to.
	symbol bool
}

// symbol is one .symtab entry.
type symbol struct {
	name  string
	value uint64
	size  uint64
	bind  elf.SymBind
	typ   elf.SymType
	shndx uint16
}

// strtab builds a string table with the leading NUL every ELF string
// table has, sharing identical strings.
type strtab struct {
	buf  bytes.Buffer
	seen map[string]uint32
}

func newStrtab() *strtab {
	t := &strtab{seen: map[string]uint32{"": 0}}
	t.buf.WriteByte(0)
	return t
}

func (t *strtab) add(s string) uint32 {
	if off, ok := t.seen[s]; ok {
		return off
	}
	off := uint32(t.buf.Len())
	t.buf.WriteString(s)
	t.buf.WriteByte(0)
	t.seen[s] = off
	return off
}

// ELF builds the module image: an ET_REL object with, in this order, the
// sections NULL, .text, __ksymtab, __kcrctab, .modinfo, __ksymtab_strings,
// __versions, .gnu.linkonce.this_module, .note.GNU-stack, .symtab, .strtab
// and .shstrtab (sections without content for this module are left out),
// followed by the section header table and Trailer. No relocations are
// written: nothing kmod reads needs them, but the kernel could not load
// such a module.
func (m *Module) ELF() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("testmod: module %q: %w", m.Name, err)
	}
	c := m.Class
	bo := c.ByteOrder()
	is64 := c.Is64()
	machine := m.Machine
	if machine == 0 {
		machine = c.DefaultMachine()
	}
	x86 := machine == elf.EM_X86_64 || machine == elf.EM_386

	var secs []*section
	add := func(s *section) uint16 {
		secs = append(secs, s)
		return uint16(len(secs)) // index 0 is the NULL section
	}
	var locals, globals []symbol

	// .text: init_module, cleanup_module and one stub per export, each in
	// a 16-byte slot like gcc's function alignment.
	funcs := append([]string{"init_module", "cleanup_module"}, m.Exports...)
	text := make([]byte, 16*len(funcs))
	for i := range funcs {
		slot := text[16*i : 16*i+16]
		if x86 {
			for j := range slot {
				slot[j] = 0xcc // int3 padding
			}
			copy(slot, []byte{0x31, 0xc0, 0xc3}) // xor %eax,%eax; ret
		}
	}
	textIdx := add(&section{name: ".text", typ: elf.SHT_PROGBITS,
		flags: elf.SHF_ALLOC | elf.SHF_EXECINSTR, data: text, align: 16, symbol: true})
	locals = append(locals, symbol{name: m.Name + ".c", bind: elf.STB_LOCAL, typ: elf.STT_FILE, shndx: uint16(elf.SHN_ABS)})
	for i, f := range funcs {
		size := uint64(1)
		if x86 {
			size = 3
		}
		globals = append(globals, symbol{name: f, value: uint64(16 * i), size: size,
			bind: elf.STB_GLOBAL, typ: elf.STT_FUNC, shndx: textIdx})
	}

	if len(m.Exports) > 0 {
		// __ksymtab: struct kernel_symbol with PREL32 offsets (value,
		// name, namespace), 12 bytes each; the offsets would be filled
		// in by relocations, so they are zero here.
		const ksymSize = 12
		ksymIdx := add(&section{name: "__ksymtab", typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC,
			data: make([]byte, ksymSize*len(m.Exports)), align: 4, symbol: true})
		for i, s := range m.Exports {
			locals = append(locals, symbol{name: "__ksymtab_" + s, value: uint64(ksymSize * i),
				size: ksymSize, bind: elf.STB_LOCAL, typ: elf.STT_OBJECT, shndx: ksymIdx})
		}
		switch m.ExportStyle {
		case ExportKcrctab:
			crcs := make([]byte, 4*len(m.Exports))
			for i, s := range m.Exports {
				bo.PutUint32(crcs[4*i:], m.ExportCRC(s))
			}
			crcIdx := add(&section{name: "__kcrctab", typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC,
				data: crcs, align: 4, symbol: true})
			for i, s := range m.Exports {
				locals = append(locals, symbol{name: "__crc_" + s, value: uint64(4 * i),
					bind: elf.STB_LOCAL, typ: elf.STT_NOTYPE, shndx: crcIdx})
			}
		case ExportAbsCRC:
			for _, s := range m.Exports {
				globals = append(globals, symbol{name: "__crc_" + s, value: uint64(m.ExportCRC(s)),
					bind: elf.STB_GLOBAL, typ: elf.STT_NOTYPE, shndx: uint16(elf.SHN_ABS)})
			}
		}
	}

	var modinfo bytes.Buffer
	counts := map[string]int{}
	var modinfoSyms []symbol
	for _, kv := range m.ModInfo {
		key, _, _ := strings.Cut(kv, "=")
		// MODULE_INFO names its variable __UNIQUE_ID_<tag><counter>.
		modinfoSyms = append(modinfoSyms, symbol{name: fmt.Sprintf("__UNIQUE_ID_%s%d", sanitizeIdent(key), counts[key]),
			value: uint64(modinfo.Len()), size: uint64(len(kv) + 1), bind: elf.STB_LOCAL, typ: elf.STT_OBJECT})
		counts[key]++
		modinfo.WriteString(kv)
		modinfo.WriteByte(0)
	}
	modinfoIdx := add(&section{name: ".modinfo", typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC,
		data: modinfo.Bytes(), align: 1, symbol: true})
	for _, s := range modinfoSyms {
		s.shndx = modinfoIdx
		locals = append(locals, s)
	}

	if len(m.Exports) > 0 {
		var strs bytes.Buffer
		type ksym struct{ name, ns uint64 }
		offs := make([]ksym, len(m.Exports))
		for i, s := range m.Exports {
			offs[i].name = uint64(strs.Len())
			strs.WriteString(s)
			strs.WriteByte(0)
			offs[i].ns = uint64(strs.Len())
			if m.ExportNamespace != "" {
				strs.WriteString(m.ExportNamespace)
				strs.WriteByte(0)
			} else {
				// The empty namespace string shares the name's NUL,
				// as the linker's string merging makes it.
				offs[i].ns--
			}
		}
		strIdx := add(&section{name: "__ksymtab_strings", typ: elf.SHT_PROGBITS,
			flags: elf.SHF_ALLOC | elf.SHF_MERGE | elf.SHF_STRINGS, data: strs.Bytes(),
			align: 1, entsize: 1, symbol: true})
		for i, s := range m.Exports {
			locals = append(locals,
				symbol{name: "__kstrtab_" + s, value: offs[i].name, size: uint64(len(s) + 1),
					bind: elf.STB_LOCAL, typ: elf.STT_OBJECT, shndx: strIdx},
				symbol{name: "__kstrtabns_" + s, value: offs[i].ns, size: uint64(len(m.ExportNamespace) + 1),
					bind: elf.STB_LOCAL, typ: elf.STT_OBJECT, shndx: strIdx})
		}
	}

	if len(m.Versions) > 0 {
		crcLen := 8
		if !is64 {
			crcLen = 4
		}
		const recLen = 64
		vers := make([]byte, recLen*len(m.Versions))
		for i, v := range m.Versions {
			rec := vers[recLen*i : recLen*(i+1)]
			if is64 {
				bo.PutUint64(rec, v.CRC)
			} else {
				bo.PutUint32(rec, uint32(v.CRC))
			}
			copy(rec[crcLen:], v.Name)
		}
		verIdx := add(&section{name: "__versions", typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC,
			data: vers, align: 32, symbol: true})
		locals = append(locals, symbol{name: "____versions", size: uint64(len(vers)),
			bind: elf.STB_LOCAL, typ: elf.STT_OBJECT, shndx: verIdx})
	}

	tmSize := m.ThisModuleSize
	if tmSize == 0 {
		tmSize = DefaultThisModuleSize(c)
	}
	thisModule := make([]byte, tmSize)
	nameOff, _ := ThisModuleNameOffset(c)
	copy(thisModule[nameOff:], m.Name)
	tmIdx := add(&section{name: ".gnu.linkonce.this_module", typ: elf.SHT_PROGBITS,
		flags: elf.SHF_WRITE | elf.SHF_ALLOC, data: thisModule, align: 64, symbol: true})
	globals = append(globals, symbol{name: "__this_module", size: uint64(tmSize),
		bind: elf.STB_GLOBAL, typ: elf.STT_OBJECT, shndx: tmIdx})

	add(&section{name: ".note.GNU-stack", typ: elf.SHT_PROGBITS, align: 1})

	for _, s := range m.Uses {
		globals = append(globals, symbol{name: s, bind: elf.STB_GLOBAL, typ: elf.STT_NOTYPE, shndx: uint16(elf.SHN_UNDEF)})
	}
	for _, s := range m.WeakUses {
		globals = append(globals, symbol{name: s, bind: elf.STB_WEAK, typ: elf.STT_NOTYPE, shndx: uint16(elf.SHN_UNDEF)})
	}

	// Symbol table: the null symbol, one STT_SECTION symbol per section
	// that wants one, the other locals, then the globals.
	syms := []symbol{{}}
	for i, s := range secs {
		if s.symbol {
			syms = append(syms, symbol{bind: elf.STB_LOCAL, typ: elf.STT_SECTION, shndx: uint16(i + 1)})
		}
	}
	syms = append(syms, locals...)
	firstGlobal := len(syms)
	syms = append(syms, globals...)

	strs := newStrtab()
	symEnt := 16
	if is64 {
		symEnt = 24
	}
	symtab := make([]byte, symEnt*len(syms))
	for i, s := range syms {
		e := symtab[symEnt*i:]
		name := strs.add(s.name)
		info := byte(s.bind)<<4 | byte(s.typ)&0xf
		if is64 {
			bo.PutUint32(e[0:], name)
			e[4] = info
			e[5] = byte(elf.STV_DEFAULT)
			bo.PutUint16(e[6:], s.shndx)
			bo.PutUint64(e[8:], s.value)
			bo.PutUint64(e[16:], s.size)
		} else {
			bo.PutUint32(e[0:], name)
			bo.PutUint32(e[4:], uint32(s.value))
			bo.PutUint32(e[8:], uint32(s.size))
			e[12] = info
			e[13] = byte(elf.STV_DEFAULT)
			bo.PutUint16(e[14:], s.shndx)
		}
	}
	symAlign := uint64(4)
	if is64 {
		symAlign = 8
	}
	symtabIdx := add(&section{name: ".symtab", typ: elf.SHT_SYMTAB, data: symtab,
		info: uint32(firstGlobal), align: symAlign, entsize: uint64(symEnt)})
	strtabIdx := add(&section{name: ".strtab", typ: elf.SHT_STRTAB, data: strs.buf.Bytes(), align: 1})
	secs[symtabIdx-1].link = uint32(strtabIdx)

	shstr := newStrtab()
	shstrIdx := add(&section{name: ".shstrtab", typ: elf.SHT_STRTAB, align: 1})
	names := make([]uint32, len(secs))
	for i, s := range secs {
		names[i] = shstr.add(s.name)
	}
	secs[shstrIdx-1].data = shstr.buf.Bytes()

	return m.layout(secs, names, machine, shstrIdx)
}

// layout serialises the ELF header, section contents, section header table
// and trailer.
func (m *Module) layout(secs []*section, names []uint32, machine elf.Machine, shstrIdx uint16) ([]byte, error) {
	c := m.Class
	bo := c.ByteOrder()
	is64 := c.Is64()
	ehsize, shentsize, wordAlign := 52, 40, 4
	if is64 {
		ehsize, shentsize, wordAlign = 64, 64, 8
	}
	if len(secs)+1 >= int(elf.SHN_LORESERVE) {
		return nil, fmt.Errorf("testmod: module %q: too many sections (%d)", m.Name, len(secs)+1)
	}

	out := make([]byte, ehsize)
	offsets := make([]int, len(secs))
	for i, s := range secs {
		if a := int(s.align); a > 1 {
			for len(out)%a != 0 {
				out = append(out, 0)
			}
		}
		offsets[i] = len(out)
		out = append(out, s.data...)
	}
	for len(out)%wordAlign != 0 {
		out = append(out, 0)
	}
	shoff := len(out)
	shdrs := make([]byte, shentsize*(len(secs)+1))
	for i, s := range secs {
		h := shdrs[shentsize*(i+1):]
		if is64 {
			bo.PutUint32(h[0:], names[i])
			bo.PutUint32(h[4:], uint32(s.typ))
			bo.PutUint64(h[8:], uint64(s.flags))
			bo.PutUint64(h[16:], 0) // sh_addr
			bo.PutUint64(h[24:], uint64(offsets[i]))
			bo.PutUint64(h[32:], uint64(len(s.data)))
			bo.PutUint32(h[40:], s.link)
			bo.PutUint32(h[44:], s.info)
			bo.PutUint64(h[48:], s.align)
			bo.PutUint64(h[56:], s.entsize)
		} else {
			bo.PutUint32(h[0:], names[i])
			bo.PutUint32(h[4:], uint32(s.typ))
			bo.PutUint32(h[8:], uint32(s.flags))
			bo.PutUint32(h[12:], 0) // sh_addr
			bo.PutUint32(h[16:], uint32(offsets[i]))
			bo.PutUint32(h[20:], uint32(len(s.data)))
			bo.PutUint32(h[24:], s.link)
			bo.PutUint32(h[28:], s.info)
			bo.PutUint32(h[32:], uint32(s.align))
			bo.PutUint32(h[36:], uint32(s.entsize))
		}
	}
	out = append(out, shdrs...)

	// ELF header.
	copy(out[0:], elf.ELFMAG)
	if is64 {
		out[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	} else {
		out[elf.EI_CLASS] = byte(elf.ELFCLASS32)
	}
	if c == ELF64MSB || c == ELF32MSB {
		out[elf.EI_DATA] = byte(elf.ELFDATA2MSB)
	} else {
		out[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	}
	out[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	out[elf.EI_OSABI] = byte(elf.ELFOSABI_NONE)
	bo.PutUint16(out[16:], uint16(elf.ET_REL))
	bo.PutUint16(out[18:], uint16(machine))
	bo.PutUint32(out[20:], uint32(elf.EV_CURRENT))
	if is64 {
		// e_entry and e_phoff stay 0.
		bo.PutUint64(out[40:], uint64(shoff))
		bo.PutUint32(out[48:], 0) // e_flags
		bo.PutUint16(out[52:], uint16(ehsize))
		bo.PutUint16(out[54:], 0) // e_phentsize
		bo.PutUint16(out[56:], 0) // e_phnum
		bo.PutUint16(out[58:], uint16(shentsize))
		bo.PutUint16(out[60:], uint16(len(secs)+1))
		bo.PutUint16(out[62:], shstrIdx)
	} else {
		bo.PutUint32(out[32:], uint32(shoff))
		bo.PutUint32(out[36:], 0) // e_flags
		bo.PutUint16(out[40:], uint16(ehsize))
		bo.PutUint16(out[42:], 0)
		bo.PutUint16(out[44:], 0)
		bo.PutUint16(out[46:], uint16(shentsize))
		bo.PutUint16(out[48:], uint16(len(secs)+1))
		bo.PutUint16(out[50:], shstrIdx)
	}
	return append(out, m.Trailer...), nil
}

// sanitizeIdent maps s to something usable inside a C identifier.
func sanitizeIdent(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if !(ch == '_' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}
