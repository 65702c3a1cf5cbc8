package elfmod

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// tailWindow is how much of a module file's end ReadInfo reads at once:
// the linker puts the section header table and the section name table
// last, and the signature follows them, so that for most modules one
// read gets all three (Debian's largest tables are near 6 KiB).
const tailWindow = 16 << 10

// ReadInfo is what Parse, Modinfo and ParseSignature give for a module
// file of size bytes read through r, but reads only the parts of the
// file they look at: the ELF header, the section header table, the
// section name table, .modinfo and the signature trailer, as kmod, which
// maps the file, touches only those pages. The entries are the .modinfo
// ones followed by the signature's (Signature.Info), as
// kmod_module_get_info lists them; the errors are Parse's and Modinfo's.
// buf is memory to read into, which the caller may pass again for the
// next file: ReadInfo returns it, grown as needed; the entries do not
// refer to it.
func ReadInfo(r io.ReaderAt, size int64, buf []byte) (info []KeyValue, _ []byte, err error) {
	if size < 0 {
		return nil, buf, fmt.Errorf("negative file size %d", size)
	}
	f := &fileParts{r: r, size: uint64(size), buf: buf[:0]}
	// The tail first: for a small file, the whole of it.
	tailOff := f.size - min(f.size, tailWindow)
	if f.tail, err = f.read(tailOff, f.size-tailOff); err != nil {
		return nil, f.buf, err
	}
	f.tailOff = tailOff
	head, err := f.at(0, min(f.size, ehdr64Size))
	if err != nil {
		return nil, f.buf, err
	}
	m, shstrndx, err := parseHeader(head, f.size)
	if err != nil {
		return nil, f.buf, err
	}
	// The Module reads its section headers and names from img, a
	// window of the file whose offsets are shifted by shift: the tail,
	// when both lie inside it (as the linker places them), else the two
	// read one after the other into buf.
	tableLen := m.shdrSize() * uint64(m.shnum)
	table, err := f.at(m.shoff, tableLen)
	if err != nil {
		return nil, f.buf, err
	}
	shoff, shift := m.shoff, f.tailOff
	inTail := shoff >= f.tailOff
	if inTail {
		m.img = f.tail
	} else {
		m.img, shift = table, shoff
	}
	m.shoff -= shift
	off, n, err := m.nameTable(shstrndx)
	if err != nil {
		return nil, f.buf, offsetBy(err, shift)
	}
	names, err := f.at(off, n)
	if err != nil {
		return nil, f.buf, err
	}
	if names[n-1] != 0 {
		return nil, f.buf, formatErr("", off, "section name table not NUL-terminated")
	}
	if !inTail || off < f.tailOff {
		img := f.alloc(tableLen + n)
		copy(img, table)
		copy(img[tableLen:], names)
		m.img, m.shoff, m.strOff = img, 0, tableLen
	} else {
		m.strOff = off - f.tailOff
	}
	m.strSize = n
	off, n, ok := m.findSection(".modinfo")
	if !ok {
		return nil, f.buf, missing(".modinfo", ErrNoModinfo)
	}
	data, err := f.at(off, n)
	if err != nil {
		return nil, f.buf, err
	}
	info = modinfoEntries(data)
	sig, err := f.signature()
	if err != nil {
		return nil, f.buf, err
	}
	if sig != nil {
		info = append(info, sig...)
	}
	return info, f.buf, nil
}

// offsetBy moves a FormatError's offset, found in a window of the file
// that starts at shift, to its place in the file.
func offsetBy(err error, shift uint64) error {
	var fe *FormatError
	if errors.As(err, &fe) && fe.Offset >= 0 {
		fe.Offset += int64(shift)
	}
	return err
}

// signature returns the entries of the file's signature, read as
// ParseSignature reads a whole file: nil when there is no valid one.
func (f *fileParts) signature() ([]KeyValue, error) {
	const trailer = uint64(sigInfoLen + len(SignatureMagic))
	if f.size < trailer {
		return nil, nil
	}
	t, err := f.at(f.size-trailer, trailer)
	if err != nil {
		return nil, err
	}
	// The trailer's lengths say how much of the file's end the
	// signature takes; ParseSignature checks them again.
	need := trailer + uint64(t[3]) + uint64(t[4]) + uint64(binary.BigEndian.Uint32(t[8:12]))
	if need > f.size {
		need = trailer // too long for the file: ParseSignature refuses it
	}
	end, err := f.at(f.size-need, need)
	if err != nil {
		return nil, err
	}
	sig, ok := ParseSignature(end)
	if !ok {
		return nil, nil
	}
	return sig.Info(), nil
}

// fileParts reads parts of a file: those within the tail it read first
// from it, the others into buf.
type fileParts struct {
	r       io.ReaderAt
	size    uint64
	tail    []byte
	tailOff uint64
	buf     []byte
}

// at returns the n bytes at off, which lie inside the file (the callers
// check against its size first).
func (f *fileParts) at(off, n uint64) ([]byte, error) {
	if off >= f.tailOff && f.tail != nil {
		return f.tail[off-f.tailOff : off-f.tailOff+n], nil
	}
	return f.read(off, n)
}

// read reads the n bytes at off into buf's free end.
func (f *fileParts) read(off, n uint64) ([]byte, error) {
	p := f.alloc(n)
	if got, err := f.r.ReadAt(p, int64(off)); uint64(got) < n {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return p, nil
}

// alloc returns n bytes of buf's free end.
func (f *fileParts) alloc(n uint64) []byte {
	if uint64(cap(f.buf)-len(f.buf)) < n {
		// A new buffer: the parts read before keep the old one.
		f.buf = make([]byte, 0, n+uint64(2*cap(f.buf)))
	}
	start := uint64(len(f.buf))
	f.buf = f.buf[:start+n]
	return f.buf[start : start+n : start+n]
}
