package depmod

import (
	"encoding/binary"
	"slices"
	"strings"
)

// kmod's depmod keeps modules and symbols in hash tables and writes some
// files in the tables' iteration order: bucket by bucket, and within a
// bucket by strcmp of the key. hashOrder sorts keys that way, so that the
// output matches kmod's byte for byte.

// superfast is Paul Hsieh's SuperFastHash as kmod computes it: 16-bit
// little-endian reads (x86) and a signed char for the odd last byte.
func superfast(key string) uint32 {
	n := uint32(len(key))
	hash := n
	rem := n & 3
	b := []byte(key)
	for ; len(b) >= 4; b = b[4:] {
		hash += uint32(binary.LittleEndian.Uint16(b))
		tmp := uint32(binary.LittleEndian.Uint16(b[2:]))<<11 ^ hash
		hash = hash<<16 ^ tmp
		hash += hash >> 11
	}
	switch rem {
	case 3:
		hash += uint32(binary.LittleEndian.Uint16(b))
		hash ^= hash << 16
		hash ^= uint32(int32(int8(b[2]))) << 18
		hash += hash >> 11
	case 2:
		hash += uint32(binary.LittleEndian.Uint16(b))
		hash ^= hash << 11
		hash += hash >> 17
	case 1:
		hash += uint32(int32(int8(b[0])))
		hash ^= hash << 10
		hash += hash >> 1
	}
	hash ^= hash << 3
	hash += hash >> 5
	hash ^= hash << 4
	hash += hash >> 17
	hash ^= hash << 25
	hash += hash >> 6
	return hash
}

// hashOrder sorts items by key in the iteration order of a kmod hash
// table of nBuckets buckets (a power of two).
func hashOrder[T any](items []T, key func(T) string, nBuckets uint32) {
	type entry struct {
		bucket uint32
		key    string
		item   T
	}
	es := make([]entry, len(items))
	for i, it := range items {
		k := key(it)
		es[i] = entry{superfast(k) & (nBuckets - 1), k, it}
	}
	slices.SortFunc(es, func(a, b entry) int {
		if a.bucket != b.bucket {
			if a.bucket < b.bucket {
				return -1
			}
			return 1
		}
		return strings.Compare(a.key, b.key)
	})
	for i := range es {
		items[i] = es[i].item
	}
}
