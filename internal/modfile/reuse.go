package modfile

import (
	"bytes"
	"fmt"
	"math/bits"
)

// Buffer is an output buffer that decompressions reuse, so that a program
// working through a tree of modules (depmod, modinfo of many) keeps one
// module's worth of memory per goroutine instead of leaving each module
// behind as garbage. An image a Buffer returned is valid until its next
// use. The zero value is ready; a Buffer is for one goroutine at a time.
// Formats that tell the output's size before decoding it (xz, from its
// index) decode into the buffer; the others allocate as Decompress does.
type Buffer struct {
	b []byte
}

// DecompressBytes is the package's DecompressBytes, decoding into b.
func (b *Buffer) DecompressBytes(data []byte, maxSize int64) ([]byte, error) {
	comp := Sniff(data)
	if comp == None {
		return DecompressBytes(data, maxSize)
	}
	img, err := decompress(b.b, bytes.NewReader(data), int64(len(data)), comp, maxSize)
	if err != nil {
		return nil, fmt.Errorf("decompressing module: %w", err)
	}
	b.keep(img)
	return img, nil
}

// keep makes img's storage the buffer's when it is larger than the
// buffer's own.
func (b *Buffer) keep(img []byte) {
	if cap(img) > cap(b.b) {
		b.b = img[:0]
	}
}

// reuse returns dst[:n] when dst can hold n bytes, else a new slice of n
// bytes, its capacity rounded up to a power of two so that a buffer grown
// module after module settles at once.
func reuse(dst []byte, n int64) []byte {
	if int64(cap(dst)) >= n {
		return dst[:n]
	}
	if dst == nil {
		return make([]byte, n) // no Buffer: exactly the size
	}
	return make([]byte, n, max(n, int64(1)<<bits.Len64(uint64(n-1))))
}
