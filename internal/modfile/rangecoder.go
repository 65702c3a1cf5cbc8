package modfile

// The LZMA range decoder. Its state is a small value passed and returned
// by the functions below, so that the compiler keeps it in registers in
// the decoder's loop; they all inline.
//
// The decoder reads the bytes of one LZMA2 chunk, whose compressed size
// the chunk header states, from an array of the largest chunk's size
// indexed modulo that size: no bounds to check. Reading past the chunk
// yields stale bytes and still advances ip, so that the hot path has no
// error return: a chunk is corrupt when, at its end, ip differs from the
// chunk's size (see lzmaState.decodeChunk).

const (
	rcTopValue  = 1 << 24 // below this range, another byte is shifted in
	rcProbBits  = 11      // probabilities are 11-bit fractions
	rcProbOne   = 1 << rcProbBits
	rcMoveBits  = 5 // adaptation speed of a probability
	rcProbInit  = rcProbOne / 2
	rcInitBytes = 5 // a chunk's range decoder starts with 5 bytes, the first 0
)

// chunkInput holds a chunk's compressed bytes.
type chunkInput = [lzma2MaxCompressed]byte

// rangeDec is the range decoder's state.
type rangeDec struct {
	rng, code uint32
	ip        uint // next byte of the chunk to read
}

// rcInit starts the range decoder on a chunk's compressed bytes; ok is
// false when the chunk is too short or does not start with a zero byte.
func rcInit(in *chunkInput, n int) (r rangeDec, ok bool) {
	if n < rcInitBytes || in[0] != 0 {
		return r, false
	}
	r.rng = 0xffffffff
	r.code = uint32(in[1])<<24 | uint32(in[2])<<16 | uint32(in[3])<<8 | uint32(in[4])
	r.ip = rcInitBytes
	return r, true
}

// normalize shifts in the next byte when the range is small.
func (r rangeDec) normalize(in *chunkInput) rangeDec {
	if r.rng < rcTopValue {
		r.rng <<= 8
		r.code = r.code<<8 | uint32(in[uint16(r.ip)])
		r.ip++
	}
	return r
}

// bit decodes one bit with the adaptive probability *p and updates it;
// the caller has normalized r first (two calls, so that both inline).
func (r rangeDec) bit(p *uint16) (rangeDec, uint32) {
	v := uint32(*p)
	bound := (r.rng >> rcProbBits) * v
	if r.code < bound {
		r.rng = bound
		*p = uint16(v + (rcProbOne-v)>>rcMoveBits)
		return r, 0
	}
	r.rng -= bound
	r.code -= bound
	*p = uint16(v - v>>rcMoveBits)
	return r, 1
}

// treeBit is bit without branches, for the bits of bit trees (literals,
// lengths, distance slots), the least predictable: both outcomes are
// computed and the compiler selects one with conditional moves (a
// one-armed if whose arm only assigns becomes CMOVs). The node's
// probability, v, was loaded beforehand, and its children's, c0 and c1,
// are loaded along: treeBit returns the one of the child the bit leads
// to, so that the next bit need not wait for a load.
func (r rangeDec) treeBit(p *uint16, v, c0, c1 int32) (rangeDec, uint, int32) {
	bound := (r.rng >> rcProbBits) * uint32(v)
	rng, code, b := r.rng-bound, r.code-bound, uint(1)
	if r.code < bound {
		rng, code, b, c1 = bound, r.code, 0, c0
	}
	// v + (rcProbOne-v)>>rcMoveBits for a 0 bit, v - v>>rcMoveBits for
	// a 1: v - (v-t)>>rcMoveBits, arithmetic, with t = 2017 or 0, taken
	// from the bit so that no register holds the constant.
	t := int32(b-1) & (rcProbOne - (1<<rcMoveBits - 1))
	*p = uint16(v - (v-t)>>rcMoveBits)
	return rangeDec{rng, code, r.ip}, b, c1
}
