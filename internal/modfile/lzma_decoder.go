package modfile

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// The LZMA decoder of LZMA2's compressed chunks, decoding into a flat
// buffer that is both the output and the dictionary (see lzma2.go).

const (
	lzmaStates       = 12
	lzmaStateSlots   = 16 // arrays by state have 16 entries, for masking
	lzmaLitStates    = 7  // states below this last decoded a literal
	lzmaPosStatesMax = 1 << 4
	lzmaLitSize      = 0x300  // probabilities of one literal coder
	lzmaLitSlots     = 0x400  // entries per literal coder, for masking
	lzmaLitCodersMax = 1 << 4 // lc+lp <= 4 in LZMA2
	lzmaLenStates    = 4      // distance slot coders, by match length
	lzmaSlotBits     = 6
	lzmaEndPosModel  = 14 // slots from here on use direct bits and align
	lzmaFullDists    = 1 << (lzmaEndPosModel / 2)
	lzmaSpecialSlots = lzmaFullDists // entries of the special array, for masking
	lzmaAlignBits    = 4
	lzmaMatchMin     = 2
	lzmaLenLowBits   = 3
	lzmaLenMidBits   = 3
	lzmaLenHighBits  = 8
	lzmaLenLow       = 1 << lzmaLenLowBits
	lzmaLenMid       = 1 << lzmaLenMidBits
	lzmaMatchMax     = lzmaMatchMin + lzmaLenLow + lzmaLenMid + 1<<lzmaLenHighBits - 1
)

// lzmaLenProbs are the probabilities of a match length coder.
type lzmaLenProbs struct {
	choice  uint16
	choice2 uint16
	low     [lzmaPosStatesMax][lzmaLenLow]uint16
	mid     [lzmaPosStatesMax][lzmaLenMid]uint16
	high    [1 << lzmaLenHighBits]uint16
}

// lzmaProbs are all of a decoder's probabilities, of fixed size: the
// literal coders for the largest lc+lp LZMA2 allows.
type lzmaProbs struct {
	isMatch    [lzmaStateSlots][lzmaPosStatesMax]uint16
	isRep      [lzmaStateSlots]uint16
	isRepG0    [lzmaStateSlots]uint16
	isRepG1    [lzmaStateSlots]uint16
	isRepG2    [lzmaStateSlots]uint16
	isRep0Long [lzmaStateSlots][lzmaPosStatesMax]uint16
	slot       [lzmaLenStates][1 << lzmaSlotBits]uint16
	special    [lzmaSpecialSlots]uint16 // lzmaFullDists-lzmaEndPosModel used
	align      [1 << lzmaAlignBits]uint16
	matchLen   lzmaLenProbs
	repLen     lzmaLenProbs
	literal    [lzmaLitCodersMax][lzmaLitSlots]uint16 // lzmaLitSize used
}

// lzmaState is an LZMA decoder's state between chunks.
type lzmaState struct {
	probs                  lzmaProbs
	state                  uint32
	rep0, rep1, rep2, rep3 uint32 // distances minus one
	lc, lp, pb             uint
	lpMask, pbMask         uint
	// The chunk being decoded (see decodeChunk).
	lo, dictStart int
	dictSize      uint32
}

// setProps sets lc, lp and pb from an LZMA properties byte; LZMA2 allows
// lc+lp <= 4.
func (s *lzmaState) setProps(b byte) error {
	if b > (4*5+4)*9+8 {
		return fmt.Errorf("%w: bad LZMA properties 0x%02x", errXZData, b)
	}
	lc, lp, pb := uint(b%9), uint(b/9%5), uint(b/45)
	if lc+lp > 4 {
		return fmt.Errorf("%w: LZMA properties lc=%d lp=%d exceed lc+lp=4", errXZData, lc, lp)
	}
	s.lc, s.lp, s.pb = lc, lp, pb
	s.lpMask, s.pbMask = 1<<lp-1, 1<<pb-1
	return nil
}

// reset starts the state over: every probability at one half, no
// distances, state 0.
func (s *lzmaState) reset() {
	fill := func(p []uint16) {
		for i := range p {
			p[i] = rcProbInit
		}
	}
	p := &s.probs
	for i := range p.isMatch {
		fill(p.isMatch[i][:])
		fill(p.isRep0Long[i][:])
	}
	fill(p.isRep[:])
	fill(p.isRepG0[:])
	fill(p.isRepG1[:])
	fill(p.isRepG2[:])
	for i := range p.slot {
		fill(p.slot[i][:])
	}
	fill(p.special[:])
	fill(p.align[:])
	for _, l := range []*lzmaLenProbs{&p.matchLen, &p.repLen} {
		l.choice, l.choice2 = rcProbInit, rcProbInit
		for i := range l.low {
			fill(l.low[i][:])
			fill(l.mid[i][:])
		}
		fill(l.high[:])
	}
	for i := range 1 << (s.lc + s.lp) {
		fill(p.literal[i][:lzmaLitSize])
	}
	s.state, s.rep0, s.rep1, s.rep2, s.rep3 = 0, 0, 0, 0, 0
}

// decodeLen decodes a match length minus lzmaMatchMin. Its bit trees
// are unrolled; each level loads the probabilities of its node's
// children along (see treeBit).
func decodeLen(r rangeDec, l *lzmaLenProbs, posState uint, in *chunkInput) (rangeDec, uint) {
	var b uint32
	probs, base := &l.low[posState&(lzmaPosStatesMax-1)], uint(0)
	if r, b = r.normalize(in).bit(&l.choice); b != 0 {
		if r, b = r.normalize(in).bit(&l.choice2); b != 0 {
			var m uint
			r, m = bitTree8(r, &l.high, in)
			return r, m - 1<<lzmaLenHighBits + lzmaLenLow + lzmaLenMid
		}
		probs, base = &l.mid[posState&(lzmaPosStatesMax-1)], lzmaLenLow
	}
	// A 3-bit tree: low lengths, or mid ones after the second choice.
	var lb uint
	v := int32(probs[1])
	m := uint(1)
	r, lb, v = r.normalize(in).treeBit(&probs[m&7], v, int32(probs[(2*m)&7]), int32(probs[(2*m+1)&7]))
	m = m<<1 | lb
	r, lb, v = r.normalize(in).treeBit(&probs[m&7], v, int32(probs[(2*m)&7]), int32(probs[(2*m+1)&7]))
	m = m<<1 | lb
	r, lb, _ = r.normalize(in).treeBit(&probs[m&7], v, 0, 0)
	m = m<<1 | lb
	return r, m&7 + base
}

// bitTree8 decodes an 8-bit bit tree (a literal's, or a high match
// length's), unrolled; each level loads the probabilities of its node's
// children along (see treeBit). The result has bit 8 set.
func bitTree8(r rangeDec, probs *[1 << 8]uint16, in *chunkInput) (rangeDec, uint) {
	var lb uint
	v := int32(probs[1])
	m := uint(1)
	r, lb, v = r.normalize(in).treeBit(&probs[m&0xff], v, int32(probs[(2*m)&0xff]), int32(probs[(2*m+1)&0xff]))
	m = m<<1 | lb
	r, lb, v = r.normalize(in).treeBit(&probs[m&0xff], v, int32(probs[(2*m)&0xff]), int32(probs[(2*m+1)&0xff]))
	m = m<<1 | lb
	r, lb, v = r.normalize(in).treeBit(&probs[m&0xff], v, int32(probs[(2*m)&0xff]), int32(probs[(2*m+1)&0xff]))
	m = m<<1 | lb
	r, lb, v = r.normalize(in).treeBit(&probs[m&0xff], v, int32(probs[(2*m)&0xff]), int32(probs[(2*m+1)&0xff]))
	m = m<<1 | lb
	r, lb, v = r.normalize(in).treeBit(&probs[m&0xff], v, int32(probs[(2*m)&0xff]), int32(probs[(2*m+1)&0xff]))
	m = m<<1 | lb
	r, lb, v = r.normalize(in).treeBit(&probs[m&0xff], v, int32(probs[(2*m)&0xff]), int32(probs[(2*m+1)&0xff]))
	m = m<<1 | lb
	r, lb, v = r.normalize(in).treeBit(&probs[m&0xff], v, int32(probs[(2*m)&0xff]), int32(probs[(2*m+1)&0xff]))
	m = m<<1 | lb
	r, lb, _ = r.normalize(in).treeBit(&probs[m&0xff], v, 0, 0)
	return r, m<<1 | lb
}

// decodeDist decodes the distance (minus one) of a match of length
// lzmaMatchMin+n.
func decodeDist(r rangeDec, p *lzmaProbs, n uint, in *chunkInput) (rangeDec, uint32) {
	// The slot: a 6-bit bit tree, unrolled.
	probs := &p.slot[min(n, lzmaLenStates-1)]
	var lb uint
	v := int32(probs[1])
	slot := uint(1)
	r, lb, v = r.normalize(in).treeBit(&probs[slot&0x3f], v, int32(probs[(2*slot)&0x3f]), int32(probs[(2*slot+1)&0x3f]))
	slot = slot<<1 | lb
	r, lb, v = r.normalize(in).treeBit(&probs[slot&0x3f], v, int32(probs[(2*slot)&0x3f]), int32(probs[(2*slot+1)&0x3f]))
	slot = slot<<1 | lb
	r, lb, v = r.normalize(in).treeBit(&probs[slot&0x3f], v, int32(probs[(2*slot)&0x3f]), int32(probs[(2*slot+1)&0x3f]))
	slot = slot<<1 | lb
	r, lb, v = r.normalize(in).treeBit(&probs[slot&0x3f], v, int32(probs[(2*slot)&0x3f]), int32(probs[(2*slot+1)&0x3f]))
	slot = slot<<1 | lb
	r, lb, v = r.normalize(in).treeBit(&probs[slot&0x3f], v, int32(probs[(2*slot)&0x3f]), int32(probs[(2*slot+1)&0x3f]))
	slot = slot<<1 | lb
	r, lb, _ = r.normalize(in).treeBit(&probs[slot&0x3f], v, 0, 0)
	slot = slot<<1 | lb
	slot &= 0x3f
	if slot < 4 {
		return r, uint32(slot)
	}
	nbits := uint32(slot>>1 - 1)
	dist := (2 | uint32(slot&1)) << nbits
	if slot < lzmaEndPosModel {
		// Reverse bit tree over the special probabilities of this slot.
		base := dist - uint32(slot) - 1
		// Each level loads its node's children's probabilities along.
		special := &p.special
		m := uint32(1)
		v := int32(special[(base+m)&(lzmaSpecialSlots-1)])
		for i := range nbits {
			c0, c1 := int32(special[(base+2*m)&(lzmaSpecialSlots-1)]), int32(special[(base+2*m+1)&(lzmaSpecialSlots-1)])
			r, lb, v = r.normalize(in).treeBit(&special[(base+m)&(lzmaSpecialSlots-1)], v, c0, c1)
			m = m<<1 | uint32(lb)
			dist |= uint32(lb) << i
		}
		return r, dist
	}
	// Direct bits, of equal probability, most significant first (here
	// rather than in a function: one that inlined would cost too much).
	var d uint32
	for range nbits - lzmaAlignBits {
		r = r.normalize(in)
		r.rng >>= 1
		// Subtract the half range; add it back when that underflowed.
		r.code -= r.rng
		t := 0 - (r.code >> 31)
		r.code += r.rng & t
		d = d<<1 + (t + 1)
	}
	dist += d << lzmaAlignBits
	// The align bits: a reverse 4-bit bit tree, unrolled.
	align := &p.align
	v = int32(align[1])
	m := uint(1)
	r, lb, v = r.normalize(in).treeBit(&align[m&0xf], v, int32(align[(2*m)&0xf]), int32(align[(2*m+1)&0xf]))
	m = m<<1 | lb
	r, lb, v = r.normalize(in).treeBit(&align[m&0xf], v, int32(align[(2*m)&0xf]), int32(align[(2*m+1)&0xf]))
	m = m<<1 | lb
	r, lb, v = r.normalize(in).treeBit(&align[m&0xf], v, int32(align[(2*m)&0xf]), int32(align[(2*m+1)&0xf]))
	m = m<<1 | lb
	r, lb, _ = r.normalize(in).treeBit(&align[m&0xf], v, 0, 0)
	m = m<<1 | lb
	dist |= uint32(bits.Reverse8(uint8(m)) >> 4)
	return r, dist
}

// decodeLiteral decodes a literal with the literal coder probs, whose
// first 256 probabilities are those of a plain literal's bit tree.
// Literals are decoded in functions of their own, whose few values all
// stay in registers.
func decodeLiteral(r rangeDec, probs *[lzmaLitSlots]uint16, in *chunkInput) (rangeDec, uint) {
	return bitTree8(r, (*[1 << 8]uint16)(probs[:1<<8]), in)
}

// decodeMatchedLiteral decodes a literal after a match, whose bits are
// coded along those of match, the byte at the last distance, until the
// first that differs: the probabilities of a node are at i = m + 0x100
// while the bits agree and the next bit of match is 0, m + 0x200 while
// they agree and it is 1, and m (a plain literal's) from the first bit
// that differs, m being the node of the bit tree. Unrolled; each level
// loads the probabilities of both next nodes along (see treeBit).
func decodeMatchedLiteral(r rangeDec, probs *[lzmaLitSlots]uint16, match uint, in *chunkInput) (rangeDec, uint) {
	var lb, i0, i1 uint
	match <<= 1
	i := 0x101 + match&0x100
	v := int32(probs[i&(lzmaLitSlots-1)])
	match <<= 1
	i0, i1 = matchedChildren(i, match)
	r, lb, v = r.normalize(in).treeBit(&probs[i&(lzmaLitSlots-1)], v, int32(probs[i0&(lzmaLitSlots-1)]), int32(probs[i1&(lzmaLitSlots-1)]))
	i = i0 ^ (i0^i1)&-lb // no branch: the compiler does not select load addresses with CMOV
	match <<= 1
	i0, i1 = matchedChildren(i, match)
	r, lb, v = r.normalize(in).treeBit(&probs[i&(lzmaLitSlots-1)], v, int32(probs[i0&(lzmaLitSlots-1)]), int32(probs[i1&(lzmaLitSlots-1)]))
	i = i0 ^ (i0^i1)&-lb // no branch: the compiler does not select load addresses with CMOV
	match <<= 1
	i0, i1 = matchedChildren(i, match)
	r, lb, v = r.normalize(in).treeBit(&probs[i&(lzmaLitSlots-1)], v, int32(probs[i0&(lzmaLitSlots-1)]), int32(probs[i1&(lzmaLitSlots-1)]))
	i = i0 ^ (i0^i1)&-lb // no branch: the compiler does not select load addresses with CMOV
	match <<= 1
	i0, i1 = matchedChildren(i, match)
	r, lb, v = r.normalize(in).treeBit(&probs[i&(lzmaLitSlots-1)], v, int32(probs[i0&(lzmaLitSlots-1)]), int32(probs[i1&(lzmaLitSlots-1)]))
	i = i0 ^ (i0^i1)&-lb // no branch: the compiler does not select load addresses with CMOV
	match <<= 1
	i0, i1 = matchedChildren(i, match)
	r, lb, v = r.normalize(in).treeBit(&probs[i&(lzmaLitSlots-1)], v, int32(probs[i0&(lzmaLitSlots-1)]), int32(probs[i1&(lzmaLitSlots-1)]))
	i = i0 ^ (i0^i1)&-lb // no branch: the compiler does not select load addresses with CMOV
	match <<= 1
	i0, i1 = matchedChildren(i, match)
	r, lb, v = r.normalize(in).treeBit(&probs[i&(lzmaLitSlots-1)], v, int32(probs[i0&(lzmaLitSlots-1)]), int32(probs[i1&(lzmaLitSlots-1)]))
	i = i0 ^ (i0^i1)&-lb // no branch: the compiler does not select load addresses with CMOV
	match <<= 1
	i0, i1 = matchedChildren(i, match)
	r, lb, v = r.normalize(in).treeBit(&probs[i&(lzmaLitSlots-1)], v, int32(probs[i0&(lzmaLitSlots-1)]), int32(probs[i1&(lzmaLitSlots-1)]))
	i = i0 ^ (i0^i1)&-lb // no branch: the compiler does not select load addresses with CMOV
	r, lb, _ = r.normalize(in).treeBit(&probs[i&(lzmaLitSlots-1)], v, 0, 0)
	return r, (i<<1 | lb) & 0xff
}

// matchedChildren returns the probability indexes of a matched
// literal's next bit after a 0 and after a 1 at the node whose index is i
// (see decodeMatchedLiteral), match shifted so that its bit 8 is the next
// bit of the match byte.
func matchedChildren(i, match uint) (i0, i1 uint) {
	// A 0 bit agrees when the match's bit was 0 (i>>8 == 1), a 1 when it
	// was 1 (i>>8 == 2): the next node is then in the row of the match's
	// next bit.
	m2, row := i<<1&0x1fe, 0x100+match&0x100
	return row&-(i>>8&1) + m2, row&-(i>>9) + m2 + 1
}

// lzmaLitNext is the state after a literal, by state.
const lzmaLitNext = "\x00\x00\x00\x00\x01\x02\x03\x04\x05\x06\x04\x05\x00\x00\x00\x00"

// decodeChunk decodes one LZMA chunk: its compressed bytes, in[:n],
// into buf[pos:end]. buf[lo:pos] is the dictionary so far: lo is where
// the last dictionary reset was, or the oldest byte kept; dictStart is
// where the last reset was (lo or less), which positions count from.
// Distances of dictSize or more are corrupt, as liblzma finds them.
//
// The loop keeps the range decoder, the position, the state and the last
// distance in locals, and reads what it needs less often from s, so that
// the compiler has registers for the former.
func (s *lzmaState) decodeChunk(in *chunkInput, n int, buf []byte, pos, end, lo, dictStart int, dictSize uint32) error {
	if end > len(buf) || pos < lo || lo < dictStart || pos > end {
		return fmt.Errorf("%w: bad chunk bounds", errXZData)
	}
	r, ok := rcInit(in, n)
	if !ok {
		return fmt.Errorf("%w: bad range coder start", errXZData)
	}
	s.lo, s.dictStart, s.dictSize = lo, dictStart, dictSize
	// The chunk ends buf: the compiler then knows pos in range in the
	// loop, which checks pos < len(buf).
	buf = buf[:end]
	p := &s.probs
	state, rep0 := uint(s.state), s.rep0
	var b uint32
	for uint(pos) < uint(len(buf)) {
		rel := uint(pos - s.dictStart)
		r = r.normalize(in)
		r, b = r.bit(&p.isMatch[state&(lzmaStateSlots-1)][rel&s.pbMask&(lzmaPosStatesMax-1)])
		if b == 0 {
			// A literal.
			var prev uint
			if pos > s.dictStart {
				prev = uint(buf[pos-1])
			}
			// lc <= 4: the shifts are masked so that the compiler
			// knows them in range.
			probs := &p.literal[((rel&s.lpMask)<<(s.lc&7)+prev>>((8-s.lc)&15))&(lzmaLitCodersMax-1)]
			var m uint
			if state < lzmaLitStates {
				r, m = decodeLiteral(r, probs, in)
			} else {
				// A literal after a match: coded along the byte at the
				// last distance until the first bit that differs.
				mp := pos - int(rep0) - 1
				if mp < s.lo || mp >= len(buf) {
					return fmt.Errorf("%w: distance past the dictionary", errXZData)
				}
				r, m = decodeMatchedLiteral(r, probs, uint(buf[mp]), in)
			}
			state = uint(lzmaLitNext[state&(lzmaStateSlots-1)])
			buf[pos] = byte(m)
			pos++
			continue
		}
		posState := rel & s.pbMask
		var n uint // length minus lzmaMatchMin
		r = r.normalize(in)
		r, b = r.bit(&p.isRep[state&(lzmaStateSlots-1)])
		if b == 0 {
			// A match with a new distance.
			r, n = decodeLen(r, &p.matchLen, posState, in)
			s.rep3, s.rep2, s.rep1 = s.rep2, s.rep1, rep0
			r, rep0 = decodeDist(r, p, n, in)
			if state < lzmaLitStates {
				state = 7
			} else {
				state = 10
			}
		} else {
			r = r.normalize(in)
			r, b = r.bit(&p.isRepG0[state&(lzmaStateSlots-1)])
			if b == 0 {
				r = r.normalize(in)
				r, b = r.bit(&p.isRep0Long[state&(lzmaStateSlots-1)][posState&(lzmaPosStatesMax-1)])
				if b == 0 {
					// A single byte at the last distance.
					mp := pos - int(rep0) - 1
					if mp < s.lo || uint(rep0) >= uint(s.dictSize) {
						return fmt.Errorf("%w: distance past the dictionary", errXZData)
					}
					buf[pos] = buf[mp]
					pos++
					if state < lzmaLitStates {
						state = 9
					} else {
						state = 11
					}
					continue
				}
			} else {
				var d uint32
				r = r.normalize(in)
				r, b = r.bit(&p.isRepG1[state&(lzmaStateSlots-1)])
				if b == 0 {
					d = s.rep1
				} else {
					r = r.normalize(in)
					r, b = r.bit(&p.isRepG2[state&(lzmaStateSlots-1)])
					if b == 0 {
						d = s.rep2
					} else {
						d = s.rep3
						s.rep3 = s.rep2
					}
					s.rep2 = s.rep1
				}
				s.rep1 = rep0
				rep0 = d
			}
			r, n = decodeLen(r, &p.repLen, posState, in)
			if state < lzmaLitStates {
				state = 8
			} else {
				state = 11
			}
		}
		// Copy the match: lzmaMatchMin+n bytes from distance rep0+1.
		length := int(n) + lzmaMatchMin
		mp := pos - int(rep0) - 1
		if uint(rep0) >= uint(s.dictSize) || mp < s.lo {
			return fmt.Errorf("%w: distance past the dictionary", errXZData)
		}
		if length > len(buf)-pos {
			return fmt.Errorf("%w: match past the chunk's end", errXZData)
		}
		pos = lzCopy(buf, pos, mp, length)
	}
	// The encoder's flush leaves the range decoder normalized at the end.
	r = r.normalize(in)
	if r.ip != uint(n) {
		return fmt.Errorf("%w: chunk's compressed size is wrong", errXZData)
	}
	if r.code != 0 {
		return fmt.Errorf("%w: range decoder did not end at zero", errXZData)
	}
	s.state, s.rep0 = uint32(state), rep0
	return nil
}

// lzCopy copies length bytes from buf[from:] to buf[pos:], from < pos,
// byte by byte in effect (the source may overlap the destination, which
// repeats it), and returns the position after them. pos+length <=
// len(buf).
func lzCopy(buf []byte, pos, from, length int) int {
	dist := pos - from
	end := pos + length
	if dist >= 8 && end+8 <= len(buf) {
		// Eight bytes at a time, no further than dist bytes back: the
		// bytes written past end are overwritten later.
		for pos < end {
			binary.LittleEndian.PutUint64(buf[pos:], binary.LittleEndian.Uint64(buf[from:]))
			pos += 8
			from += 8
		}
		return end
	}
	if dist >= length {
		copy(buf[pos:end], buf[from:])
		return end
	}
	for ; pos < end; pos++ {
		buf[pos] = buf[from]
		from++
	}
	return end
}
