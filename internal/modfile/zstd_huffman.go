package modfile

import (
	"errors"
	"fmt"
	"math/bits"
)

// zstdHufMaxBits is the longest Huffman code zstd allows.
const zstdHufMaxBits = 11

// errHuffman is a Huffman tree description or stream that cannot be read.
var errHuffman = errors.New("corrupt Huffman literals")

// hufTable decodes Huffman-coded literals: entry i, for the next maxBits
// bits of the stream equal to i, is the symbol << 8 | the code's length.
type hufTable struct {
	e       [1 << zstdHufMaxBits]uint16
	maxBits uint8
}

// readHuffman reads a Huffman tree description (RFC 8878, 4.2.1) from the
// front of in into t and returns its size.
func (d *zstdDecoder) readHuffman(in []byte) (int, error) {
	if len(in) == 0 {
		return 0, errHuffman
	}
	w := &d.weights
	var n, used int
	if h := int(in[0]); h < 128 {
		// FSE-compressed weights, two interleaved states.
		used = 1 + h
		if used > len(in) {
			return 0, errHuffman
		}
		data := in[1:used]
		nsym, log, k, err := readFSENorm(data, zstdHufMaxBits, 6, &d.norm)
		if err != nil {
			return 0, fmt.Errorf("huffman weights: %w", err)
		}
		table := d.fseScratch[:]
		if err := buildFSE(d.norm[:nsym], log, table); err != nil {
			return 0, fmt.Errorf("huffman weights: %w", err)
		}
		var br zstdBits
		if err := br.init(data[k:]); err != nil {
			return 0, errHuffman
		}
		mask := uint64(1)<<log - 1
		s1 := br.get(log) & mask
		s2 := br.get(log) & mask
		for {
			if n >= 254 {
				return 0, errHuffman
			}
			br.fill()
			e := table[s1]
			w[n] = e.sym
			n++
			s1 = (uint64(e.base) + br.get(e.nb)) & mask
			if br.overread() {
				w[n] = table[s2].sym
				n++
				break
			}
			e = table[s2]
			w[n] = e.sym
			n++
			s2 = (uint64(e.base) + br.get(e.nb)) & mask
			if br.overread() {
				w[n] = table[s1].sym
				n++
				break
			}
		}
	} else {
		n = h - 127
		used = 1 + (n+1)/2
		if used > len(in) {
			return 0, errHuffman
		}
		for i := 0; i < n; i++ {
			b := in[1+i/2]
			if i&1 == 0 {
				b >>= 4
			}
			w[i] = b & 15
		}
	}
	// The last symbol's weight is implied: the one that makes the sum a
	// power of two.
	sum := 0
	for _, x := range w[:n] {
		if x > zstdHufMaxBits {
			return 0, errHuffman
		}
		if x > 0 {
			sum += 1 << (x - 1)
		}
	}
	if sum == 0 {
		return 0, errHuffman
	}
	maxBits := bits.Len(uint(sum))
	rest := 1<<maxBits - sum
	if maxBits > zstdHufMaxBits || rest&(rest-1) != 0 {
		return 0, errHuffman
	}
	w[n] = uint8(bits.Len(uint(rest)))
	n++
	// Codes are assigned longest first, in symbol order within a length.
	var count [zstdHufMaxBits + 2]int
	for _, x := range w[:n] {
		if x > 0 {
			count[maxBits+1-int(x)]++
		}
	}
	var start [zstdHufMaxBits + 2]int
	for nb, at := maxBits, 0; nb >= 1; nb-- {
		start[nb] = at
		at += count[nb] << (maxBits - nb)
	}
	t := &d.huf
	for s, x := range w[:n] {
		if x == 0 {
			continue
		}
		nb := maxBits + 1 - int(x)
		k := 1 << (maxBits - nb)
		e := uint16(s)<<8 | uint16(nb)
		fill := t.e[start[nb] : start[nb]+k]
		for i := range fill {
			fill[i] = e
		}
		start[nb] += k
	}
	t.maxBits = uint8(maxBits)
	return used, nil
}

// decode decodes one Huffman stream, in, into exactly len(dst) symbols.
func (t *hufTable) decode(in, dst []byte) error {
	var br zstdBits
	if err := br.init(in); err != nil {
		return errHuffman
	}
	shift := 64 - uint(t.maxBits)
	tab := &t.e
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		// After fill, 57 bits or the whole rest: 4 codes of 11.
		br.fill()
		d := dst[i : i+4 : i+4]
		e := tab[br.value<<(br.used&63)>>shift&(1<<zstdHufMaxBits-1)]
		d[0] = byte(e >> 8)
		br.used += uint(e & 0xff)
		e = tab[br.value<<(br.used&63)>>shift&(1<<zstdHufMaxBits-1)]
		d[1] = byte(e >> 8)
		br.used += uint(e & 0xff)
		e = tab[br.value<<(br.used&63)>>shift&(1<<zstdHufMaxBits-1)]
		d[2] = byte(e >> 8)
		br.used += uint(e & 0xff)
		e = tab[br.value<<(br.used&63)>>shift&(1<<zstdHufMaxBits-1)]
		d[3] = byte(e >> 8)
		br.used += uint(e & 0xff)
	}
	for ; i < len(dst); i++ {
		br.fill()
		e := tab[br.value<<(br.used&63)>>shift&(1<<zstdHufMaxBits-1)]
		dst[i] = byte(e >> 8)
		br.used += uint(e & 0xff)
	}
	if !br.done() {
		return errHuffman
	}
	return nil
}
