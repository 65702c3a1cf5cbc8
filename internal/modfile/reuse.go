package modfile

import (
	"bytes"
	"fmt"
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
// its index) decode into the buffer, and Map reads a small plain file into
// it; the other formats allocate as Decompress does.
type Buffer struct {
	b     []byte
	free  func()
	parts []byte    // ReadInfo's memory for a plain file's parts, on the heap
	xz    *xzWorker // the xz decoder's state and input buffer, reused
}

// DecompressBytes is the package's DecompressBytes, decoding into b; a
// nil b allocates.
func (b *Buffer) DecompressBytes(data []byte, maxSize int64) ([]byte, error) {
	comp := Sniff(data)
	if comp == None {
		return DecompressBytes(data, maxSize)
	}
	img, err := decompress(b, bytes.NewReader(data), int64(len(data)), comp, maxSize)
	if err != nil {
		return nil, fmt.Errorf("decompressing module: %w", err)
	}
	return img, nil
}

// Release returns the buffer's memory; the Buffer is empty again, and
// images it returned are no longer valid.
func (b *Buffer) Release() {
	if b == nil {
		return
	}
	b.parts, b.xz = nil, nil
	if b.free == nil {
		return
	}
	b.free()
	b.b, b.free = nil, nil
}

// take returns n bytes to decode into: the buffer's memory, grown to a
// power of two when it is smaller (so that it settles at once as modules
// grow), or, for a nil b or when no memory can be had outside the heap,
// n new bytes of the heap.
func (b *Buffer) take(n int64) []byte {
	if b == nil || n == 0 {
		return make([]byte, n)
	}
	if int64(cap(b.b)) < n {
		b.Release()
		mem, free, err := fileio.Scratch(int(int64(1) << bits.Len64(uint64(n-1))))
		if err != nil {
			return make([]byte, n)
		}
		b.b, b.free = mem[:0], free
	}
	return b.b[:n]
}
