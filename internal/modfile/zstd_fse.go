package modfile

import (
	"errors"
	"fmt"
	"math/bits"
)

// fseEntry is one state of an FSE decoding table: the symbol it emits,
// and the next state, base plus nb bits read from the stream.
type fseEntry struct {
	sym  uint8
	nb   uint8
	base uint16
}

// zstdFSEMaxSymbols bounds the symbols of an FSE table description.
const zstdFSEMaxSymbols = 256

// errFSETable is an FSE table description that cannot be read.
var errFSETable = errors.New("corrupt FSE table description")

// readFSENorm reads an FSE table description (RFC 8878, 4.1.1) from the
// front of in into norm: each symbol's normalized count, -1 for "less than
// one". It returns the number of symbols, the accuracy log and the bytes
// read; maxSym is the largest symbol and maxLog the largest accuracy log
// allowed.
func readFSENorm(in []byte, maxSym int, maxLog uint8, norm *[zstdFSEMaxSymbols]int16) (nsym int, log uint8, n int, err error) {
	pos := uint(0) // bit position
	read := func(k uint) uint32 {
		var v uint32
		p := int(pos >> 3)
		for i := 0; i < 3 && p+i < len(in); i++ {
			v |= uint32(in[p+i]) << (8 * i)
		}
		v >>= pos & 7
		pos += k
		return v & (1<<k - 1)
	}
	if len(in) == 0 {
		return 0, 0, 0, errFSETable
	}
	log = uint8(read(4)) + 5
	if log > maxLog {
		return 0, 0, 0, fmt.Errorf("FSE accuracy log %d over %d", log, maxLog)
	}
	remaining := int32(1) << log
	sym := 0
	for remaining > 0 && sym <= maxSym {
		nbits := uint(bits.Len32(uint32(remaining + 1))) // highest bit + 1
		v := read(nbits)
		low := uint32(1)<<(nbits-1) - 1
		threshold := uint32(1)<<nbits - 1 - uint32(remaining+1)
		if v&low < threshold {
			pos--
			v &= low
		} else if v > low {
			v -= threshold
		}
		p := int32(v) - 1
		if p < 0 {
			remaining += p
		} else {
			remaining -= p
		}
		norm[sym] = int16(p)
		sym++
		if p == 0 {
			for {
				rep := read(2)
				for i := uint32(0); i < rep && sym <= maxSym; i++ {
					norm[sym] = 0
					sym++
				}
				if rep != 3 || pos > 8*uint(len(in)) {
					break
				}
			}
		}
	}
	n = int((pos + 7) >> 3)
	if remaining != 0 || n > len(in) {
		return 0, 0, 0, errFSETable
	}
	return sym, log, n, nil
}

// buildFSE fills table (1<<log entries) from normalized counts (RFC 8878,
// 4.1.1).
func buildFSE(norm []int16, log uint8, table []fseEntry) error {
	size := 1 << log
	table = table[:size]
	high := size - 1
	var next [zstdFSEMaxSymbols]uint16
	for s, c := range norm {
		if c == -1 {
			if high < 0 {
				return errFSETable
			}
			table[high].sym = uint8(s)
			high--
			next[s] = 1
		} else {
			next[s] = uint16(c)
		}
	}
	step := size>>1 + size>>3 + 3
	mask := size - 1
	pos := 0
	for s, c := range norm {
		for i := int16(0); i < c; i++ {
			if high < 0 {
				return errFSETable
			}
			table[pos].sym = uint8(s)
			pos = (pos + step) & mask
			for pos > high {
				pos = (pos + step) & mask
			}
		}
	}
	if pos != 0 {
		return errFSETable
	}
	for u := range table {
		s := table[u].sym
		x := next[s]
		next[s]++
		nb := log - uint8(bits.Len16(x)-1)
		table[u].nb = nb
		table[u].base = x<<nb - uint16(size)
	}
	return nil
}
