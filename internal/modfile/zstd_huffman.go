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
	return t.finish(&br, dst, 0)
}

// finish decodes symbols dst[i:] from br, which must then be consumed.
func (t *hufTable) finish(br *zstdBits, dst []byte, i int) error {
	shift := 64 - uint(t.maxBits)
	tab := &t.e
	for ; i+4 <= len(dst); i += 4 {
		// After fill, 57 bits or the whole rest: 4 codes of 11.
		br.fill()
		d := dst[i : i+4 : i+4]
		for k := range d {
			e := tab[br.value<<(br.used&63)>>shift&(1<<zstdHufMaxBits-1)]
			d[k] = byte(e >> 8)
			br.used += uint(e & 0xff)
		}
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

// decode4 decodes four Huffman streams into out, interleaved, so that
// the processor overlaps their work: up to the shortest output (the
// last), 4 symbols of each in turn, then the rest of each alone.
func (t *hufTable) decode4(in, out *[4][]byte) error {
	var br [4]zstdBits
	for k := range br {
		if err := br[k].init(in[k]); err != nil {
			return errHuffman
		}
	}
	shift := 64 - uint(t.maxBits)
	tab := &t.e
	in0, in1, in2, in3 := in[0], in[1], in[2], in[3]
	v0, u0, f0 := br[0].value, br[0].used, br[0].off
	v1, u1, f1 := br[1].value, br[1].used, br[1].off
	v2, u2, f2 := br[2].value, br[2].used, br[2].off
	v3, u3, f3 := br[3].value, br[3].used, br[3].off
	n := min(len(out[0]), len(out[1]), len(out[2]), len(out[3]))
	i := 0
	for ; i+4 <= n; i += 4 {
		v0, u0, f0 = bitsRefill(in0, v0, u0, f0)
		v1, u1, f1 = bitsRefill(in1, v1, u1, f1)
		v2, u2, f2 = bitsRefill(in2, v2, u2, f2)
		v3, u3, f3 = bitsRefill(in3, v3, u3, f3)
		d0 := out[0][i : i+4 : i+4]
		d1 := out[1][i : i+4 : i+4]
		d2 := out[2][i : i+4 : i+4]
		d3 := out[3][i : i+4 : i+4]
		for k := range 4 {
			e0 := tab[v0<<(u0&63)>>shift&(1<<zstdHufMaxBits-1)]
			e1 := tab[v1<<(u1&63)>>shift&(1<<zstdHufMaxBits-1)]
			e2 := tab[v2<<(u2&63)>>shift&(1<<zstdHufMaxBits-1)]
			e3 := tab[v3<<(u3&63)>>shift&(1<<zstdHufMaxBits-1)]
			u0 += uint(e0 & 0xff)
			u1 += uint(e1 & 0xff)
			u2 += uint(e2 & 0xff)
			u3 += uint(e3 & 0xff)
			d0[k&3] = byte(e0 >> 8)
			d1[k&3] = byte(e1 >> 8)
			d2[k&3] = byte(e2 >> 8)
			d3[k&3] = byte(e3 >> 8)
		}
	}
	br[0].value, br[0].used, br[0].off = v0, u0, f0
	br[1].value, br[1].used, br[1].off = v1, u1, f1
	br[2].value, br[2].used, br[2].off = v2, u2, f2
	br[3].value, br[3].used, br[3].off = v3, u3, f3
	for k := range br {
		if err := t.finish(&br[k], out[k], i); err != nil {
			return err
		}
	}
	return nil
}
