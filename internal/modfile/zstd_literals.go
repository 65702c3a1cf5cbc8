package modfile

import (
	"errors"
	"fmt"
)

// errLiterals is a literals section header that cannot be read.
var errLiterals = errors.New("corrupt literals section")

// literals decodes the literals section at the front of a compressed
// block (RFC 8878, 3.1.1.3.1) and returns the literals and the rest of
// the block. Raw literals are returned in place.
func (d *zstdDecoder) literals(in []byte, blockMax int) (lits, rest []byte, err error) {
	if len(in) == 0 {
		return nil, nil, errLiterals
	}
	b0 := in[0]
	typ, format := b0&3, b0>>2&3
	if typ < 2 { // raw or RLE
		var size, hl int
		switch format {
		case 0, 2:
			size, hl = int(b0>>3), 1
		case 1:
			if len(in) < 2 {
				return nil, nil, errLiterals
			}
			size, hl = int(b0>>4)|int(in[1])<<4, 2
		case 3:
			if len(in) < 3 {
				return nil, nil, errLiterals
			}
			size, hl = int(b0>>4)|int(in[1])<<4|int(in[2])<<12, 3
		}
		if size > blockMax {
			return nil, nil, fmt.Errorf("%d literals in a block of at most %d bytes", size, blockMax)
		}
		if typ == 0 {
			if hl+size > len(in) {
				return nil, nil, errLiterals
			}
			return in[hl : hl+size], in[hl+size:], nil
		}
		if hl >= len(in) {
			return nil, nil, errLiterals
		}
		lits = d.litSpace(size)
		c := in[hl]
		for i := range lits {
			lits[i] = c
		}
		return lits, in[hl+1:], nil
	}
	// Huffman-coded, with a new tree (2) or the last block's (3).
	var regen, comp, hl int
	streams := 4
	switch format {
	case 0, 1:
		if len(in) < 3 {
			return nil, nil, errLiterals
		}
		v := int(b0) | int(in[1])<<8 | int(in[2])<<16
		regen, comp, hl = v>>4&0x3ff, v>>14&0x3ff, 3
		if format == 0 {
			streams = 1
		}
	case 2:
		if len(in) < 4 {
			return nil, nil, errLiterals
		}
		v := int(b0) | int(in[1])<<8 | int(in[2])<<16 | int(in[3])<<24
		regen, comp, hl = v>>4&0x3fff, v>>18&0x3fff, 4
	case 3:
		if len(in) < 5 {
			return nil, nil, errLiterals
		}
		v := int(b0) | int(in[1])<<8 | int(in[2])<<16 | int(in[3])<<24 | int(in[4])<<32
		regen, comp, hl = v>>4&0x3ffff, v>>22&0x3ffff, 5
	}
	if regen > blockMax {
		return nil, nil, fmt.Errorf("%d literals in a block of at most %d bytes", regen, blockMax)
	}
	if hl+comp > len(in) {
		return nil, nil, errLiterals
	}
	data, rest := in[hl:hl+comp], in[hl+comp:]
	if typ == 2 {
		n, err := d.readHuffman(data)
		if err != nil {
			return nil, nil, err
		}
		data = data[n:]
		d.hufOK = true
	} else if !d.hufOK {
		return nil, nil, errors.New("literals repeat a Huffman tree that was never sent")
	}
	lits = d.litSpace(regen)
	if streams == 1 {
		if err := d.huf.decode(data, lits); err != nil {
			return nil, nil, err
		}
		return lits, rest, nil
	}
	// Four streams, after a jump table of the first three's sizes.
	if len(data) < 6 || regen < 6 {
		return nil, nil, errHuffman
	}
	s1 := int(data[0]) | int(data[1])<<8
	s2 := int(data[2]) | int(data[3])<<8
	s3 := int(data[4]) | int(data[5])<<8
	data = data[6:]
	if s1+s2+s3 > len(data) {
		return nil, nil, errHuffman
	}
	seg := (regen + 3) / 4
	ins := [4][]byte{data[:s1], data[s1 : s1+s2], data[s1+s2 : s1+s2+s3], data[s1+s2+s3:]}
	outs := [4][]byte{lits[:seg], lits[seg : 2*seg], lits[2*seg : 3*seg], lits[3*seg:]}
	if err := d.huf.decode4(&ins, &outs); err != nil {
		return nil, nil, err
	}
	return lits, rest, nil
}
