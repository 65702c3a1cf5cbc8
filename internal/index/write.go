package index

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Builder collects keys and values and writes them as a kmod index. The
// trie it builds has the same shape as the one kmod's depmod builds from the
// same insertions, so lookups through it return the same values in the same
// order. The zero value is ready to use.
type Builder struct {
	root *wnode
	n    int
}

type wnode struct {
	prefix string
	values []Value
	childs []wchild // sorted by byte
	size   int      // encoded size of the subtree, set by Bytes
}

type wchild struct {
	c    byte
	node *wnode
}

// Len returns the number of values added.
func (b *Builder) Len() int { return b.n }

// Add stores value under key with the given priority. Values of one key are
// kept sorted by priority; a value is placed in front of earlier values of
// the same priority, as depmod does. Keys and values must be 7-bit ASCII
// without NUL bytes.
func (b *Builder) Add(key, value string, priority uint32) error {
	if err := checkString(key); err != nil {
		return fmt.Errorf("key %q: %w", key, err)
	}
	if len(key) >= MaxKeyLen {
		return fmt.Errorf("key of %d bytes: keys must be shorter than %d bytes", len(key), MaxKeyLen)
	}
	if err := checkString(value); err != nil {
		return fmt.Errorf("value %q of key %q: %w", value, key, err)
	}
	if b.root == nil {
		b.root = &wnode{}
	}
	b.n++
	n := b.root
	i := 0
	for {
		// Make n.prefix a prefix of key[i:], splitting n if needed.
		j := 0
		for j < len(n.prefix) && i+j < len(key) && n.prefix[j] == key[i+j] {
			j++
		}
		if j < len(n.prefix) {
			tail := &wnode{prefix: n.prefix[j+1:], values: n.values, childs: n.childs}
			*n = wnode{prefix: n.prefix[:j], childs: []wchild{{c: n.prefix[j], node: tail}}}
		}
		i += j
		if i == len(key) {
			n.values = insertValue(n.values, Value{Value: value, Priority: priority})
			return nil
		}
		c := key[i]
		k, found := slices.BinarySearchFunc(n.childs, c, func(e wchild, c byte) int { return int(e.c) - int(c) })
		if !found {
			child := &wnode{prefix: key[i+1:], values: []Value{{Value: value, Priority: priority}}}
			n.childs = slices.Insert(n.childs, k, wchild{c: c, node: child})
			return nil
		}
		n = n.childs[k].node
		i++
	}
}

func checkString(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] >= childMax {
			return fmt.Errorf("byte 0x%x at offset %d: only 7-bit ASCII is supported", s[i], i)
		}
		if s[i] == 0 {
			return fmt.Errorf("NUL byte at offset %d", i)
		}
	}
	return nil
}

func insertValue(vals []Value, v Value) []Value {
	i := 0
	for i < len(vals) && vals[i].Priority < v.Priority {
		i++
	}
	return slices.Insert(vals, i, v)
}

// Bytes returns the index in kmod's format, nodes in pre-order (the root
// first, as kmod 34 and later write it; every reader accepts any order).
// An empty builder gives the 12-byte empty index.
func (b *Builder) Bytes() ([]byte, error) {
	out := make([]byte, headerSize, 1<<12)
	binary.BigEndian.PutUint32(out, Magic)
	binary.BigEndian.PutUint32(out[4:], VersionMajor<<16|VersionMinor)
	if b.root == nil {
		binary.BigEndian.PutUint32(out[8:], headerSize)
		return out, nil
	}
	size := headerSize + subtreeSize(b.root)
	if size > offsetMask {
		return nil, fmt.Errorf("index of %d bytes is larger than the format can address", size)
	}
	out = slices.Grow(out, size-len(out))
	word := nodeWord(b.root, headerSize)
	binary.BigEndian.PutUint32(out[8:], word)
	out = writeNode(out, b.root)
	return out, nil
}

// nodeSize is the encoded size of n alone.
func nodeSize(n *wnode) int {
	size := 0
	if n.prefix != "" {
		size += len(n.prefix) + 1
	}
	if len(n.childs) > 0 {
		size += 2 + 4*(int(n.childs[len(n.childs)-1].c)-int(n.childs[0].c)+1)
	}
	if len(n.values) > 0 {
		size += 4
		for _, v := range n.values {
			size += 4 + len(v.Value) + 1
		}
	}
	return size
}

// subtreeSize computes and records the encoded size of every subtree.
func subtreeSize(n *wnode) int {
	size := nodeSize(n)
	for _, c := range n.childs {
		size += subtreeSize(c.node)
	}
	n.size = size
	return size
}

func nodeWord(n *wnode, off int) uint32 {
	w := uint32(off)
	if n.prefix != "" {
		w |= flagPrefix
	}
	if len(n.childs) > 0 {
		w |= flagChilds
	}
	if len(n.values) > 0 {
		w |= flagValues
	}
	return w
}

// writeNode appends n and then its children, each child directly after the
// subtree of the previous one.
func writeNode(out []byte, n *wnode) []byte {
	start := len(out)
	if n.prefix != "" {
		out = append(out, n.prefix...)
		out = append(out, 0)
	}
	childOff := start + nodeSize(n)
	if len(n.childs) > 0 {
		first, last := n.childs[0].c, n.childs[len(n.childs)-1].c
		out = append(out, first, last)
		words := make([]uint32, int(last-first)+1)
		off := childOff
		for _, c := range n.childs {
			words[c.c-first] = nodeWord(c.node, off)
			off += c.node.size
		}
		for _, w := range words {
			out = binary.BigEndian.AppendUint32(out, w)
		}
	}
	if len(n.values) > 0 {
		out = binary.BigEndian.AppendUint32(out, uint32(len(n.values)))
		for _, v := range n.values {
			out = binary.BigEndian.AppendUint32(out, v.Priority)
			out = append(out, v.Value...)
			out = append(out, 0)
		}
	}
	for _, c := range n.childs {
		out = writeNode(out, c.node)
	}
	return out
}

// Index returns the built index, ready for lookups.
func (b *Builder) Index() (*Index, error) {
	data, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	return New(data)
}
