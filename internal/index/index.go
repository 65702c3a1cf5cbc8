// Package index reads and writes kmod's binary module indexes
// (modules.dep.bin, modules.alias.bin, modules.symbols.bin,
// modules.builtin.bin and modules.builtin.alias.bin) and builds the same
// indexes from depmod's text files when the binary ones are absent.
//
// # Format
//
// A .bin file is a 12-byte header (magic 0xB007F457, version 2.x, root node
// word; all big-endian) followed by a radix trie over 7-bit ASCII keys. A node
// word carries flags in its top nibble (prefix, values, children) and the
// node's file offset in the rest. A node holds, in this order and only when
// its flags say so: a NUL-terminated prefix; a first and last child byte and
// one node word per byte in that range; a value count and that many
// (priority, NUL-terminated string) pairs, sorted by priority.
//
// # Robustness
//
// Every read is bounds-checked. A node that does not fit in the file reads as
// absent, and a walk reads at most one node per byte of the file, so a
// corrupt or hostile index yields fewer results, never a crash or a loop.
package index

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"unsafe"

	"github.com/gokmod/modprobe/internal/fnmatch"
)

// Header constants of kmod's index format.
const (
	Magic        = 0xB007F457
	VersionMajor = 2
	VersionMinor = 1

	flagPrefix = 0x80000000
	flagValues = 0x40000000
	flagChilds = 0x20000000
	offsetMask = 0x0FFFFFFF

	headerSize = 12
	childMax   = 128

	// MaxKeyLen is the longest key a walk descends to. depmod builds
	// every key in a PATH_MAX buffer, so real keys are shorter; the limit
	// bounds the recursion of walks over a hostile index.
	MaxKeyLen = 4096
)

// ErrFormat is wrapped by errors about a file that is not a usable index.
var ErrFormat = errors.New("not a kmod index")

// Value is one value stored under a key.
type Value struct {
	Value    string
	Priority uint32
}

// Order selects how the values of one node are ordered when read.
type Order int

const (
	// StoredOrder keeps values in file order (sorted by priority, the
	// order depmod wrote). libkmod reads this way when all its indexes
	// were loaded with kmod_load_resources.
	StoredOrder Order = iota
	// ReinsertOrder re-inserts each value in front of the values of equal
	// priority, which reverses ties. libkmod's per-lookup file reader,
	// used when kmod_load_resources failed, reads this way.
	ReinsertOrder
)

// Index is a read-only kmod index held in memory. Its methods are safe for
// concurrent use.
type Index struct {
	data  []byte
	root  uint32
	order Order
	unmap func() error
}

// New checks the header of data and returns the index it holds. The index
// keeps a reference to data, which must not change while it is in use.
func New(data []byte) (*Index, error) {
	if len(data) < headerSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrFormat, len(data), headerSize)
	}
	if m := binary.BigEndian.Uint32(data); m != Magic {
		return nil, &HeaderError{Magic: m}
	}
	if v := binary.BigEndian.Uint32(data[4:]); v>>16 != VersionMajor {
		return nil, &HeaderError{Magic: Magic, Major: v >> 16}
	}
	return &Index{data: data, root: binary.BigEndian.Uint32(data[8:])}, nil
}

// HeaderError reports a bad magic number or major version. Its message is
// the one libkmod logs for the same file.
type HeaderError struct {
	Magic uint32
	Major uint32
}

func (e *HeaderError) Error() string {
	if e.Magic != Magic {
		return fmt.Sprintf("magic check fail: %x instead of %x", e.Magic, uint32(Magic))
	}
	return fmt.Sprintf("major version check fail: %d instead of %d", e.Major, VersionMajor)
}

// Unwrap makes errors.Is(err, ErrFormat) hold.
func (e *HeaderError) Unwrap() error { return ErrFormat }

// SetOrder selects how values are ordered by Lookup, Search and Dump.
func (x *Index) SetOrder(o Order) { x.order = o }

// Size returns the size of the index in bytes.
func (x *Index) Size() int { return len(x.data) }

// Close releases the memory mapping, if any. The index must not be used
// afterwards.
func (x *Index) Close() error {
	if x == nil || x.unmap == nil {
		return nil
	}
	u := x.unmap
	x.unmap, x.data = nil, nil
	return u()
}

// node is one decoded trie node; its slices point into the index data.
type node struct {
	prefix  []byte
	first   int
	last    int
	childs  []byte // (last-first+1) big-endian node words
	nvalues int
	values  []byte // the encoded values
}

// budget bounds how many bytes of nodes one walk may read. A walk over a
// valid index reads each node once, so the size of the file is enough; a
// corrupt file whose child words form cycles or point many times at one
// node runs out of budget instead of running forever.
type budget int

func (x *Index) newBudget() *budget {
	b := budget(len(x.data))
	return &b
}

// spend charges n bytes; it reports false when the budget is exhausted.
func (b *budget) spend(n int) bool {
	if *b < budget(n) {
		*b = 0
		return false
	}
	*b -= budget(n)
	return true
}

// read decodes the node at word w and charges its size to b; it returns
// false for "no node", which includes every node that does not fit inside
// the file, and when the budget is spent.
func (x *Index) read(w uint32, n *node, b *budget) bool {
	off := int(w & offsetMask)
	if off == 0 || off >= len(x.data) {
		return false
	}
	d := x.data[off:]
	start := len(d)
	*n = node{first: childMax, last: -1}
	if w&flagPrefix != 0 {
		i := indexByte(d, 0)
		if i < 0 {
			return false
		}
		n.prefix, d = d[:i], d[i+1:]
	}
	if w&flagChilds != 0 {
		if len(d) < 2 {
			return false
		}
		first, last := int(d[0]), int(d[1])
		if first > last || last >= childMax {
			return false
		}
		cnt := last - first + 1
		if len(d) < 2+4*cnt {
			return false
		}
		n.first, n.last, n.childs, d = first, last, d[2:2+4*cnt], d[2+4*cnt:]
	}
	if w&flagValues != 0 {
		if len(d) < 4 {
			return false
		}
		cnt := binary.BigEndian.Uint32(d)
		d = d[4:]
		// Each value takes at least five bytes: priority and NUL.
		if uint64(cnt)*5 > uint64(len(d)) {
			return false
		}
		// Check that every value is terminated, once, here.
		p := d
		for range cnt {
			if len(p) < 5 {
				return false
			}
			i := indexByte(p[4:], 0)
			if i < 0 {
				return false
			}
			p = p[4+i+1:]
		}
		n.nvalues, n.values = int(cnt), d[:len(d)-len(p)]
		d = p
	}
	// Every node costs at least one byte, even an empty one.
	return b.spend(max(start-len(d), 1))
}

// indexByte is bytes.IndexByte: its vector search beats a byte loop on
// the values (modules.dep lines, dozens to hundreds of bytes), which
// every lookup scans for their ends.
func indexByte(b []byte, c byte) int { return bytes.IndexByte(b, c) }

// child returns the node word of the child for byte c, or 0.
func (n *node) child(c int) uint32 {
	if c < n.first || c > n.last {
		return 0
	}
	i := (c - n.first) * 4
	return binary.BigEndian.Uint32(n.childs[i:])
}

// eachValue calls fn for each value of n in the index's order.
func (x *Index) eachValue(n *node, fn func(v Value)) {
	if n.nvalues == 0 {
		return
	}
	vals := decodeValues(n)
	if x.order == ReinsertOrder {
		vals = reinsert(vals)
	}
	for _, v := range vals {
		fn(v)
	}
}

func decodeValues(n *node) []Value {
	vals := make([]Value, 0, n.nvalues)
	p := n.values
	for range n.nvalues {
		prio := binary.BigEndian.Uint32(p)
		i := indexByte(p[4:], 0)
		vals = append(vals, Value{Priority: prio, Value: string(p[4 : 4+i])})
		p = p[4+i+1:]
	}
	return vals
}

// reinsert orders vals, given in the order they were found, the way
// libkmod's add_value leaves a list built by inserting each in front of
// the first value whose priority is not lower: by priority, and among
// equal priorities the value found last first. It reorders vals in place.
func reinsert(vals []Value) []Value {
	slices.Reverse(vals)
	slices.SortStableFunc(vals, func(a, b Value) int { return cmp.Compare(a.Priority, b.Priority) })
	return vals
}

// Lookup returns the first value stored under key, as libkmod's exact
// search does.
func (x *Index) Lookup(key string) (string, bool) {
	if x == nil {
		return "", false
	}
	var n node
	b := x.newBudget()
	w := x.root
	i := 0
	for x.read(w, &n, b) {
		for _, c := range n.prefix {
			if i >= len(key) || key[i] != c {
				return "", false
			}
			i++
		}
		if i == len(key) {
			if n.nvalues == 0 {
				return "", false
			}
			if x.order == ReinsertOrder {
				vals := reinsert(decodeValues(&n))
				return vals[0].Value, true
			}
			p := n.values[4:]
			return string(p[:indexByte(p, 0)]), true
		}
		w = n.child(int(key[i]))
		i++
	}
	return "", false
}

// Search returns the values of every key that, read as an fnmatch pattern,
// matches query, ordered by priority and, for equal priorities, with the
// value found last first — the order libkmod's wildcard search returns.
func (x *Index) Search(query string) []Value {
	if x == nil {
		return nil
	}
	s := searcher{x: x, b: x.newBudget(), query: query}
	s.node(x.root, 0)
	return reinsert(s.out)
}

type searcher struct {
	x     *Index
	b     *budget
	query string
	buf   []byte  // the pattern accumulated below a wildcard
	out   []Value // in the order found; Search orders them at the end
}

func (s *searcher) add(n *node) {
	s.x.eachValue(n, func(v Value) { s.out = append(s.out, v) })
}

// node walks the literal path of the query from word w, where i bytes of
// the query are consumed.
func (s *searcher) node(w uint32, i int) {
	var n node
	for s.x.read(w, &n, s.b) {
		for j, c := range n.prefix {
			if c == '*' || c == '?' || c == '[' {
				s.buf = s.buf[:0]
				s.all(&n, j, s.query[min(i+j, len(s.query)):])
				return
			}
			if i+j >= len(s.query) || s.query[i+j] != c {
				return
			}
		}
		i += len(n.prefix)
		for _, c := range []byte("*?[") {
			if cw := n.child(int(c)); cw != 0 {
				s.buf = append(s.buf[:0], c)
				s.sub(cw, s.query[i:])
			}
		}
		if i == len(s.query) {
			s.add(&n)
			return
		}
		w = n.child(int(s.query[i]))
		i++
	}
}

// sub reads the node at w and explores it exhaustively.
func (s *searcher) sub(w uint32, rest string) {
	var n node
	if !s.x.read(w, &n, s.b) {
		return
	}
	s.all(&n, 0, rest)
}

// all explores every key below n, whose pattern so far is s.buf followed by
// n.prefix[j:], and adds the values of the keys that match rest.
func (s *searcher) all(n *node, j int, rest string) {
	mark := len(s.buf)
	s.buf = append(s.buf, n.prefix[j:]...)
	if len(s.buf) >= MaxKeyLen {
		s.buf = s.buf[:mark]
		return
	}
	for c := n.first; c <= n.last; c++ {
		cw := n.child(c)
		if cw == 0 {
			continue
		}
		var ch node
		if !s.x.read(cw, &ch, s.b) {
			continue
		}
		s.buf = append(s.buf, byte(c))
		s.all(&ch, 0, rest)
		s.buf = s.buf[:len(s.buf)-1]
	}
	if n.nvalues > 0 && fnmatch.Match(unsafe.String(unsafe.SliceData(s.buf), len(s.buf)), rest) {
		s.add(n)
	}
	s.buf = s.buf[:mark]
}

// Dump writes every key and value as "PREFIXkey value\n", depth first with
// children in byte order, as libkmod's index dump does.
func (x *Index) Dump(w io.Writer, prefix string) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	x.Walk(func(key string, v Value) {
		bw.WriteString(prefix)
		bw.WriteString(key)
		bw.WriteByte(' ')
		bw.WriteString(v.Value)
		bw.WriteByte('\n')
	})
	return bw.Flush()
}

// Keys returns every key of the index with its values, in dump order.
func (x *Index) Keys() []KeyValue {
	var kv []KeyValue
	x.Walk(func(key string, v Value) { kv = append(kv, KeyValue{Key: key, Value: v.Value}) })
	return kv
}

// KeyValue is one entry of an index.
type KeyValue struct {
	Key   string
	Value string
}

// Walk calls fn for every key and value of the index, in dump order.
func (x *Index) Walk(fn func(key string, v Value)) {
	if x == nil {
		return
	}
	w := walker{x: x, b: x.newBudget(), fn: fn}
	w.node(x.root)
}

type walker struct {
	x   *Index
	b   *budget
	fn  func(string, Value)
	buf []byte
}

func (w *walker) node(word uint32) {
	var n node
	if !w.x.read(word, &n, w.b) {
		return
	}
	mark := len(w.buf)
	w.buf = append(w.buf, n.prefix...)
	if len(w.buf) >= MaxKeyLen {
		w.buf = w.buf[:mark]
		return
	}
	if n.nvalues > 0 {
		key := string(w.buf)
		w.x.eachValue(&n, func(v Value) { w.fn(key, v) })
	}
	for c := n.first; c <= n.last; c++ {
		if cw := n.child(c); cw != 0 {
			w.buf = append(w.buf, byte(c))
			w.node(cw)
			w.buf = w.buf[:len(w.buf)-1]
		}
	}
	w.buf = w.buf[:mark]
}
