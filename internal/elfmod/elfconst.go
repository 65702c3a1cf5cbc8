package elfmod

// The ELF constants the package and its users read, as the ELF
// specification numbers them. They are spelled here rather than taken from
// debug/elf: that package brings debug/dwarf, compress/zlib and their
// package inits into every process that reads a module (each gokmod
// tool's start-up: some 25 page faults more), for a dozen numbers.
const (
	// ELFMag is the identification's first four bytes (elf.ELFMAG).
	ELFMag = "\x7fELF"

	eiClass   = 4  // elf.EI_CLASS
	eiData    = 5  // elf.EI_DATA
	eiNIdent  = 16 // elf.EI_NIDENT
	class32   = 1  // elf.ELFCLASS32
	class64   = 2  // elf.ELFCLASS64
	data2LSB  = 1  // elf.ELFDATA2LSB
	data2MSB  = 2  // elf.ELFDATA2MSB
	shnUndef  = 0  // elf.SHN_UNDEF
	shnAbs    = 0xfff1
	emSPARC   = 2  // elf.EM_SPARC
	emSPARCV9 = 43 // elf.EM_SPARCV9

	// SHFAlloc is the section flag that has the kernel load a section
	// (elf.SHF_ALLOC).
	SHFAlloc = 0x2
)

// Symbol bindings (elf.STB_*), the values of Symbol.Bind.
const (
	STBLocal  byte = 0
	STBGlobal byte = 1
	STBWeak   byte = 2
)

// Class is the image's ELF class, EI_CLASS: 1 for 32-bit (ELFCLASS32), 2
// for 64-bit (ELFCLASS64); the same numbers as debug/elf's Class.
type Class byte

// The classes Parse accepts.
const (
	Class32 Class = class32
	Class64 Class = class64
)
