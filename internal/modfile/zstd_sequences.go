package modfile

import (
	"errors"
	"fmt"
)

// seqEntry is one state of a sequence decoding table: the value of the
// code it emits (base plus add extra bits), and the next state (next plus
// nb bits).
type seqEntry struct {
	base uint32
	add  uint8
	nb   uint8
	next uint16
}

// seqTable is the FSE table of literal lengths, match lengths or offsets.
type seqTable struct {
	e   [512]seqEntry
	log uint8
	ok  bool // a table was sent: the repeat mode may use it
}

// seqKind describes one of the three sequence codes (RFC 8878,
// 3.1.1.3.2.1).
type seqKind struct {
	name    string
	maxSym  int
	maxLog  uint8
	defLog  uint8
	defNorm []int16
	base    []uint32
	add     []uint8
}

// The codes' baselines and extra bits, and their predefined
// distributions.
var (
	llBase = []uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
		16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024, 2048, 4096,
		8192, 16384, 32768, 65536}
	llAdd = []uint8{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12,
		13, 14, 15, 16}
	mlBase = []uint32{3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
		19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
		35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051,
		4099, 8195, 16387, 32771, 65539}
	mlAdd = []uint8{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11,
		12, 13, 14, 15, 16}
	llDefault = []int16{4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1,
		2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1,
		-1, -1, -1, -1}
	mlDefault = []int16{1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1,
		-1, -1, -1, -1, -1}
	ofDefault = []int16{1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1}
)

// seqKinds are literal lengths, offsets and match lengths, in the order
// of their compression modes and tables. Offset code n is 1<<n plus n
// extra bits, so its base and add are computed.
var seqKinds = [3]seqKind{
	{"literal lengths", 35, 9, 6, llDefault, llBase, llAdd},
	{"offsets", 31, 8, 5, ofDefault, nil, nil},
	{"match lengths", 52, 9, 6, mlDefault, mlBase, mlAdd},
}

// errSequences is a sequences section that cannot be read.
var errSequences = errors.New("corrupt sequences section")

// setTable sets up t for a symbol compression mode, reading what it
// needs from the front of in; it returns the bytes read.
func (d *zstdDecoder) setTable(t *seqTable, k *seqKind, mode byte, in []byte) (int, error) {
	switch mode {
	case 0: // predefined
		if err := d.fillSeqTable(t, k, k.defNorm, k.defLog); err != nil {
			return 0, err
		}
		return 0, nil
	case 1: // RLE: one symbol
		if len(in) == 0 {
			return 0, errSequences
		}
		s := int(in[0])
		if s > k.maxSym {
			return 0, fmt.Errorf("%s: RLE code %d over %d", k.name, s, k.maxSym)
		}
		t.e[0] = k.entry(s, 0, 0)
		t.log, t.ok = 0, true
		return 1, nil
	case 2: // FSE-compressed
		nsym, log, n, err := readFSENorm(in, k.maxSym, k.maxLog, &d.norm)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", k.name, err)
		}
		if err := d.fillSeqTable(t, k, d.norm[:nsym], log); err != nil {
			return 0, err
		}
		return n, nil
	}
	// repeat
	if !t.ok {
		return 0, fmt.Errorf("%s: repeat mode without a previous table", k.name)
	}
	return 0, nil
}

// entry returns the table entry emitting code s.
func (k *seqKind) entry(s int, nb uint8, next uint16) seqEntry {
	if k.base == nil {
		return seqEntry{base: 1 << s, add: uint8(s), nb: nb, next: next}
	}
	return seqEntry{base: k.base[s], add: k.add[s], nb: nb, next: next}
}

// fillSeqTable builds t from normalized counts.
func (d *zstdDecoder) fillSeqTable(t *seqTable, k *seqKind, norm []int16, log uint8) error {
	f := d.fseScratch[:]
	if err := buildFSE(norm, log, f); err != nil {
		return fmt.Errorf("%s: %w", k.name, err)
	}
	for i, e := range f[:1<<log] {
		t.e[i] = k.entry(int(e.sym), e.nb, e.base)
	}
	t.log, t.ok = log, true
	return nil
}

// sequences decodes the sequences section in and executes it: literals
// from lits and matches into out from out[pos] on, where out[start:pos]
// is the frame's output so far, writing no further than end. It returns
// the new position.
func (d *zstdDecoder) sequences(in, lits, out []byte, pos, start, end int) (int, error) {
	if len(in) == 0 {
		return 0, errSequences
	}
	nseq := int(in[0])
	switch {
	case nseq == 0:
		if len(in) != 1 {
			return 0, errSequences
		}
		if len(lits) > end-pos {
			return 0, errZstdOverrun
		}
		return pos + copy(out[pos:end], lits), nil
	case nseq < 128:
		in = in[1:]
	case nseq < 255:
		if len(in) < 2 {
			return 0, errSequences
		}
		nseq = (nseq-128)<<8 | int(in[1])
		in = in[2:]
	default:
		if len(in) < 3 {
			return 0, errSequences
		}
		nseq = int(in[1]) | int(in[2])<<8 + 0x7f00
		in = in[3:]
	}
	if len(in) == 0 {
		return 0, errSequences
	}
	modes := in[0]
	in = in[1:]
	if modes&3 != 0 {
		return 0, fmt.Errorf("%w: reserved bits set in the compression modes", errSequences)
	}
	for i, t := range [3]*seqTable{&d.ll, &d.of, &d.ml} {
		n, err := d.setTable(t, &seqKinds[i], modes>>(6-2*i)&3, in)
		if err != nil {
			return 0, err
		}
		in = in[n:]
	}
	var br zstdBits
	if err := br.init(in); err != nil {
		return 0, fmt.Errorf("sequences: %w", err)
	}
	ll, of, ml := &d.ll.e, &d.of.e, &d.ml.e
	lls := br.get(d.ll.log)
	ofs := br.get(d.of.log)
	br.fill()
	mls := br.get(d.ml.log)
	rep := d.rep
	window := d.window
	lp := 0
	// litsx reaches past the literals, into what follows them in their
	// buffer, for copies of 16 bytes.
	litsx := lits[:cap(lits)]
	// The bit reader's state is kept in locals in the loop, where the
	// compiler keeps it in registers.
	in, value, used, boff := br.in, br.value, br.used, br.off
	for i := nseq; i > 0; i-- {
		value, used, boff = bitsRefill(in, value, used, boff)
		oe, me, le := of[ofs&511], ml[mls&511], ll[lls&511]
		ofv := int(oe.base) + int(bitsPeek(value, used, oe.add))
		used += uint(oe.add)
		if oe.add > 24 {
			value, used, boff = bitsRefill(in, value, used, boff)
		}
		mlen := int(me.base) + int(bitsPeek(value, used, me.add))
		used += uint(me.add)
		llen := int(le.base) + int(bitsPeek(value, used, le.add))
		used += uint(le.add)
		if i > 1 {
			value, used, boff = bitsRefill(in, value, used, boff)
			lls = uint64(le.next) + bitsPeek(value, used, le.nb)
			used += uint(le.nb)
			mls = uint64(me.next) + bitsPeek(value, used, me.nb)
			used += uint(me.nb)
			ofs = uint64(oe.next) + bitsPeek(value, used, oe.nb)
			used += uint(oe.nb)
		}
		var off int
		if ofv > 3 {
			off = ofv - 3
			rep[2], rep[1], rep[0] = rep[1], rep[0], off
		} else {
			if llen == 0 {
				ofv++
			}
			switch ofv {
			case 1:
				off = rep[0]
			case 2:
				off = rep[1]
				rep[1], rep[0] = rep[0], off
			case 3:
				off = rep[2]
				rep[2], rep[1], rep[0] = rep[1], rep[0], off
			default:
				off = rep[0] - 1
				rep[2], rep[1], rep[0] = rep[1], rep[0], off
			}
		}
		// Execute: literals, then the match.
		if llen > len(lits)-lp {
			return 0, fmt.Errorf("%w: a sequence takes %d literals, %d are left", errSequences, llen, len(lits)-lp)
		}
		if llen+mlen > end-pos {
			return 0, errZstdOverrun
		}
		if llen <= 16 && lp+16 <= len(litsx) && pos+16 <= len(out) {
			// Copy 16 bytes: those past llen are overwritten later.
			*(*[16]byte)(out[pos:]) = *(*[16]byte)(litsx[lp:])
		} else {
			copy(out[pos:pos+llen], lits[lp:lp+llen])
		}
		pos += llen
		lp += llen
		if off > pos-start || off > window || off <= 0 {
			return 0, fmt.Errorf("%w: offset %d with %d bytes of history", errSequences, off, min(pos-start, window))
		}
		src := pos - off
		switch {
		case off >= 16 && pos+mlen+16 <= len(out):
			// 16 bytes at a time, each copied from before where it is
			// written; those past mlen are overwritten later.
			for i := 0; i < mlen; i += 16 {
				*(*[16]byte)(out[pos+i:]) = *(*[16]byte)(out[src+i:])
			}
		case off >= 8 && pos+mlen+8 <= len(out):
			for i := 0; i < mlen; i += 8 {
				*(*[8]byte)(out[pos+i:]) = *(*[8]byte)(out[src+i:])
			}
		case off >= mlen:
			copy(out[pos:pos+mlen], out[src:src+mlen])
		default:
			// Overlapping: each copy doubles what the next can take.
			for done := 0; done < mlen; {
				done += copy(out[pos+done:pos+mlen], out[src:pos+done])
			}
		}
		pos += mlen
	}
	br.value, br.used, br.off = value, used, boff
	if !br.done() {
		return 0, fmt.Errorf("sequences: %w", errZstdBitstream)
	}
	d.rep = rep
	if rest := len(lits) - lp; rest > end-pos {
		return 0, errZstdOverrun
	}
	return pos + copy(out[pos:end], lits[lp:]), nil
}
