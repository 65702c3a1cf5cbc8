package sign

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"

	"github.com/ulikunitz/xz/lzma"
)

// xzDictCap is the kernel build's xz dictionary (--lzma2=dict=1MiB), and
// xzDictByte its encoding in the LZMA2 filter properties (2 << 19).
const (
	xzDictCap  = 1 << 20
	xzDictByte = 16
)

// compressXZ returns image in an xz stream as the kernel's build writes
// one (xz --check=crc32 --lzma2=dict=1MiB): one block, one LZMA2 filter,
// a CRC32 check, which the kernel's own xz decoder accepts. The LZMA2
// data is ulikunitz/xz's (package lzma); the container around it is
// written here so that gokmod links neither package xz nor the CRC64
// table its initialisation builds for every process.
func compressXZ(image []byte) ([]byte, error) {
	var out bytes.Buffer
	le32 := func(v uint32) { out.Write(binary.LittleEndian.AppendUint32(nil, v)) }
	streamFlags := []byte{0x00, 0x01} // check type CRC32
	out.WriteString("\xfd7zXZ\x00")
	out.Write(streamFlags)
	le32(crc32.ChecksumIEEE(streamFlags))

	// Block header: size (12/4 - 1), flags (one filter, no sizes),
	// filter LZMA2 (0x21) with one property byte, padding, CRC32.
	header := []byte{2, 0x00, 0x21, 0x01, xzDictByte, 0, 0, 0}
	out.Write(header)
	le32(crc32.ChecksumIEEE(header))

	start := out.Len()
	w, err := lzma.Writer2Config{DictCap: xzDictCap}.NewWriter2(&out)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(image); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	compressed := out.Len() - start
	for out.Len()%4 != 0 {
		out.WriteByte(0)
	}
	le32(crc32.ChecksumIEEE(image))

	// Index: indicator, one record (unpadded size, uncompressed size),
	// padding, CRC32.
	index := []byte{0x00, 1}
	index = binary.AppendUvarint(index, uint64(len(header)+4+compressed+4))
	index = binary.AppendUvarint(index, uint64(len(image)))
	for len(index)%4 != 0 {
		index = append(index, 0)
	}
	out.Write(index)
	le32(crc32.ChecksumIEEE(index))

	// Stream footer: CRC32 of backward size and flags, backward size,
	// flags, magic.
	footer := binary.LittleEndian.AppendUint32(nil, uint32((len(index)+4)/4-1))
	footer = append(footer, streamFlags...)
	le32(crc32.ChecksumIEEE(footer))
	out.Write(footer)
	out.WriteString("YZ")
	return out.Bytes(), nil
}
