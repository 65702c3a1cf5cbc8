package modfile

import (
	"bytes"
	"fmt"
	"io"
	"math/bits"

	"github.com/gokmod/modprobe/internal/fileio"
)

// Buffer is output memory that decompressions reuse, so that a program
// working through a tree of modules (depmod, modinfo of many) holds one
// module's worth of memory per goroutine instead of leaving each module
// behind as garbage. Its memory lies outside the Go heap (see
// fileio.Scratch): a large module neither raises the collector's goal nor
// waits for a collection to be freed. An image a Buffer returned is valid
// until the Buffer's next use or Release; nothing may keep a reference
// into it. The zero value is ready; a Buffer is for one goroutine at a
// time. Formats that tell the output's size before decoding it (xz, from
// its index) decode into the buffer; the others allocate as Decompress
// does.
type Buffer struct {
	b    []byte
	free func()
}

// DecompressBytes is the package's DecompressBytes, decoding into b; a
// nil b allocates.
func (b *Buffer) DecompressBytes(data []byte, maxSize int64) ([]byte, error) {
	comp := Sniff(data)
	if comp == None {
		return DecompressBytes(data, maxSize)
	}
	img, err := decompress(b.grow(comp, bytes.NewReader(data), int64(len(data)), maxSize), bytes.NewReader(data), int64(len(data)), comp, maxSize)
	if err != nil {
		return nil, fmt.Errorf("decompressing module: %w", err)
	}
	return img, nil
}

// Release returns the buffer's memory; the Buffer is empty again, and
// images it returned are no longer valid.
func (b *Buffer) Release() {
	if b == nil || b.free == nil {
		return
	}
	b.free()
	b.b, b.free = nil, nil
}

// grow readies the buffer for the output of the file r of size bytes in
// format c, when the format states it (xz's index) and it is within
// limit, and returns the storage to decode into (nil: let the decoder
// allocate).
func (b *Buffer) grow(c Compression, r io.ReaderAt, size, limit int64) []byte {
	if b == nil || c != XZ {
		return nil
	}
	_, _, total, ok := xzLayout(r, size)
	if !ok || total > limit || total == 0 {
		return nil
	}
	if int64(cap(b.b)) < total {
		b.Release()
		n := int64(1) << bits.Len64(uint64(total-1)) // settles at once as modules grow
		mem, free, err := fileio.Scratch(int(n))
		if err != nil {
			return nil
		}
		b.b, b.free = mem[:0], free
	}
	return b.b
}

// reuse returns dst[:n] when dst can hold n bytes, else a new slice of n
// bytes.
func reuse(dst []byte, n int64) []byte {
	if int64(cap(dst)) >= n {
		return dst[:n]
	}
	return make([]byte, n)
}
