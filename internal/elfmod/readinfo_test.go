package elfmod

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/internal/testmod"
)

// wholeInfo is ReadInfo's oracle: Parse, Modinfo and ParseSignature of
// the whole file.
func wholeInfo(b []byte) ([]KeyValue, error) {
	m, err := Parse(b)
	if err != nil {
		return nil, err
	}
	info, err := m.Modinfo()
	if err != nil {
		return nil, err
	}
	if sig, ok := ParseSignature(b); ok {
		info = append(info, sig.Info()...)
	}
	return info, nil
}

// requireSameInfo checks that ReadInfo gives for b what wholeInfo does,
// reading into a fresh buffer and into buf, one that held another file
// (ReadInfo must read nothing of it but what it wrote); it returns the
// buffer ReadInfo handed back.
func requireSameInfo(t testing.TB, b, buf []byte) []byte {
	t.Helper()
	want, wantErr := wholeInfo(b)
	for i, in := range [][]byte{nil, buf} {
		got, out, err := ReadInfo(bytes.NewReader(b), int64(len(b)), in)
		if wantErr != nil {
			require.Error(t, err, "buffer %d", i)
			for _, sentinel := range []error{ErrFormat, ErrNoSection, ErrNoModinfo} {
				require.Equal(t, errors.Is(wantErr, sentinel), errors.Is(err, sentinel), "buffer %d: %v, Parse/Modinfo: %v", i, err, wantErr)
			}
			var fe, wfe *FormatError
			if errors.As(wantErr, &wfe) && errors.As(err, &fe) {
				require.Equal(t, wfe.Offset, fe.Offset, "buffer %d: %v, Parse/Modinfo: %v", i, err, wantErr)
			}
		} else {
			require.NoError(t, err, "buffer %d", i)
			require.Equal(t, want, got, "buffer %d", i)
		}
		buf = out
	}
	return buf
}

// setUint writes v at off in the module's byte order and class width.
func setUint(b []byte, off int, width int, v uint64) {
	bo := binary.ByteOrder(binary.LittleEndian)
	if b[eiData] == data2MSB {
		bo = binary.BigEndian
	}
	if width == 8 {
		bo.PutUint64(b[off:], v)
	} else {
		bo.PutUint32(b[off:], uint32(v))
	}
}

// layouts returns img laid out in ways that put the section header
// table and the section name table inside the read tail or out of it.
func layouts(t *testing.T, img []byte) map[string][]byte {
	t.Helper()
	m, err := Parse(img)
	require.NoError(t, err)
	shoffAt, width := 0x20, 4
	if m.is64 {
		shoffAt, width = 0x28, 8
	}
	table := img[m.shoff : m.shoff+m.shdrSize()*uint64(m.shnum)]
	out := map[string][]byte{"as built": img}
	// Padding after the table: the table falls out of the tail.
	out["table before the tail"] = append(bytes.Clone(img), make([]byte, 2*tailWindow)...)
	// Padding before the table, moved to the end: the names fall out
	// of the tail, the table stays in it.
	moved := append(bytes.Clone(img), make([]byte, 2*tailWindow)...)
	setUint(moved, shoffAt, width, uint64(len(moved)))
	out["names before the tail"] = append(moved, table...)
	// Both at the end of a large file, as the linker leaves them.
	end := append(bytes.Clone(img), make([]byte, 2*tailWindow)...)
	namesAt := uint64(len(end))
	end = append(end, img[m.strOff:m.strOff+m.strSize]...)
	tableAt := uint64(len(end))
	end = append(end, table...)
	setUint(end, shoffAt, width, tableAt)
	// The name table's sh_offset: its header is in the moved table.
	strndx := binary.LittleEndian.Uint16(img[0x3e:])
	offAt, hsize := 0x18, 64
	if !m.is64 {
		strndx = binary.LittleEndian.Uint16(img[0x32:])
		offAt, hsize = 0x10, 40
	}
	if img[eiData] == data2MSB {
		strndx = strndx>>8 | strndx<<8
	}
	setUint(end, int(tableAt)+int(strndx)*hsize+offAt, width, namesAt)
	out["both at the end of a large file"] = end
	return out
}

func TestReadInfoSynthetic(t *testing.T) {
	der := keyDER(t, bytes.Repeat([]byte{9}, 512))
	var buf []byte
	for _, c := range allClasses {
		for _, s := range allStyles {
			for _, trailer := range [][]byte{nil, pkcs7Trailer(der)} {
				img, err := sampleModule(c, s).ELF()
				require.NoError(t, err)
				for name, b := range layouts(t, img) {
					b = append(bytes.Clone(b), trailer...)
					t.Run(name, func(t *testing.T) {
						got, _, err := ReadInfo(bytes.NewReader(b), int64(len(b)), nil)
						require.NoError(t, err)
						require.NotEmpty(t, got)
						if trailer != nil {
							assert.Equal(t, KeyValue{"sig_id", "PKCS#7"}, got[len(got)-5])
						}
						buf = requireSameInfo(t, b, buf)
					})
				}
			}
		}
	}
}

// TestReadInfoBad checks ReadInfo against Parse on broken files: every
// truncation of a module, and headers and tables pointing out of it.
func TestReadInfoBad(t *testing.T) {
	img, err := sampleModule(testmod.ELF64LSB, testmod.ExportPlain).ELF()
	require.NoError(t, err)
	var buf []byte
	for n := 0; n < len(img); n += 1 + n/16 {
		buf = requireSameInfo(t, img[:n], buf)
	}
	m, err := Parse(img)
	require.NoError(t, err)
	strHeader := int(m.shoff) + int(binary.LittleEndian.Uint16(img[0x3e:]))*shdr64Size
	for name, mut := range map[string]func(b []byte){
		"bad magic":               func(b []byte) { b[1] = 'X' },
		"unknown class":           func(b []byte) { b[eiClass] = 9 },
		"unknown data encoding":   func(b []byte) { b[eiData] = 9 },
		"section header size":     func(b []byte) { b[0x3a] = 63 },
		"table beyond the file":   func(b []byte) { binary.LittleEndian.PutUint64(b[0x28:], uint64(len(b))) },
		"table offset overflows":  func(b []byte) { binary.LittleEndian.PutUint64(b[0x28:], ^uint64(0)-8) },
		"name table index":        func(b []byte) { binary.LittleEndian.PutUint16(b[0x3e:], m.shnum) },
		"name table beyond":       func(b []byte) { binary.LittleEndian.PutUint64(b[strHeader+0x18:], uint64(len(b))) },
		"name table empty":        func(b []byte) { binary.LittleEndian.PutUint64(b[strHeader+0x20:], 0) },
		"name table without NUL":  func(b []byte) { b[m.strOff+m.strSize-1] = 'x' },
		"no .modinfo":             func(b []byte) { copy(b[bytes.Index(b, []byte(".modinfo\x00")):], ".modinfX") },
		"signature too long":      func(b []byte) {},
		"no sections":             func(b []byte) { binary.LittleEndian.PutUint16(b[0x3c:], 0) },
		"name table index is 0":   func(b []byte) { binary.LittleEndian.PutUint16(b[0x3e:], 0) },
		"name table size huge":    func(b []byte) { binary.LittleEndian.PutUint64(b[strHeader+0x20:], ^uint64(0)) },
		"name table offset huge":  func(b []byte) { binary.LittleEndian.PutUint64(b[strHeader+0x18:], ^uint64(0)-2) },
		"many section headers":    func(b []byte) { binary.LittleEndian.PutUint16(b[0x3c:], 0xffff) },
		"truncated ELF32 header":  func(b []byte) { b[eiClass] = class32 },
		"signature of zero bytes": func(b []byte) {},
	} {
		t.Run(name, func(t *testing.T) {
			b := bytes.Clone(img)
			mut(b)
			switch name {
			case "signature too long", "signature of zero bytes":
				tr := []byte{0, 0, 2, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff}
				if name == "signature of zero bytes" {
					tr[8], tr[9], tr[10], tr[11] = 0, 0, 0, 0
				}
				b = append(append(b, tr...), SignatureMagic...)
			case "truncated ELF32 header":
				b = b[:ehdr32Size]
			}
			buf = requireSameInfo(t, b, buf)
		})
	}
}

// failingReader fails every read at or after off.
type failingReader struct {
	r   io.ReaderAt
	off int64
}

func (f failingReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.off {
		return 0, syscall.EIO
	}
	return f.r.ReadAt(p, off)
}

// TestReadInfoReadErrors checks that a failed or short read is an error,
// never a module with what the buffer held before.
func TestReadInfoReadErrors(t *testing.T) {
	img, err := sampleModule(testmod.ELF64LSB, testmod.ExportPlain).ELF()
	require.NoError(t, err)
	img = append(img, make([]byte, 2*tailWindow)...) // the header and table read apart from the tail
	buf := bytes.Repeat([]byte{0xee}, 4*tailWindow)
	for _, off := range []int64{0, 1, 64, int64(len(img)) - tailWindow, int64(len(img)) - 1} {
		_, _, err := ReadInfo(failingReader{bytes.NewReader(img), off}, int64(len(img)), buf)
		require.ErrorIs(t, err, syscall.EIO, "failing from %d", off)
	}
	// A file shorter than its size said (cut while read).
	_, _, err = ReadInfo(bytes.NewReader(img[:len(img)/2]), int64(len(img)), buf)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, _, err = ReadInfo(bytes.NewReader(img), -1, buf)
	require.Error(t, err)
}

// TestReadInfoDebian compares ReadInfo with the whole-file parse on every
// module of Debian 12's tree (plain files, as modinfo reads them).
func TestReadInfoDebian(t *testing.T) {
	root, release := testmod.DebianTree(t)
	var buf []byte
	n := 0
	err := filepath.WalkDir(filepath.Join(root, "lib/modules", release, "kernel"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".ko") {
			return err
		}
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		buf = requireSameInfo(t, b, buf)
		n++
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, n, 3000)
}

func FuzzReadInfo(f *testing.F) {
	for _, c := range allClasses {
		img, err := sampleModule(c, testmod.ExportPlain).ELF()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(img)
	}
	f.Add(signedModule(f, keyDER(f, []byte{9})))
	// A buffer that held another module: what ReadInfo does not read
	// must not show through.
	stale := bytes.Repeat([]byte(".modinfo\x00license=stale\x00"), 2*tailWindow/24)
	f.Fuzz(func(t *testing.T, b []byte) {
		requireSameInfo(t, b, stale)
	})
}
