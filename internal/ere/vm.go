package ere

import "fmt"

// assertKind is a zero-width assertion.
type assertKind int

const (
	assertBegin           assertKind = iota // ^, \`: the subject's start
	assertEnd                               // $, \': its end
	assertWordBoundary                      // \b
	assertNotWordBoundary                   // \B
	assertWordStart                         // \<
	assertWordEnd                           // \>
)

// opcode is what an instruction does.
type opcode int

const (
	opSet    opcode = iota // match one byte of set, go on to the next
	opSplit                // go on to x and to y
	opJmp                  // go on to x
	opAssert               // go on to the next if assert holds
	opMatch                // the pattern matched
)

// inst is an instruction of a compiled pattern, run by a Pike VM: every
// thread advances over the subject together, so matching takes time
// linear in the subject whatever the pattern.
type inst struct {
	op     opcode
	x, y   int
	set    byteSet
	assert assertKind
}

// maxProg bounds a compiled pattern: {m,n} copies its atom, and a
// depmod.d pattern has no use for thousands of them.
const maxProg = 1 << 14

// compiler turns a node into instructions.
type compiler struct {
	src  string // the pattern, for errors
	prog []inst
}

func (c *compiler) emit(i inst) int {
	c.prog = append(c.prog, i)
	return len(c.prog) - 1
}

func (c *compiler) compile(n *node) error {
	if len(c.prog) > maxProg {
		return fmt.Errorf("%w %q: more than %d instructions", ErrSyntax, c.src, maxProg)
	}
	switch n.kind {
	case nSet:
		c.emit(inst{op: opSet, set: n.set})
	case nAssert:
		c.emit(inst{op: opAssert, assert: n.assert})
	case nCat:
		for _, s := range n.subs {
			if err := c.compile(s); err != nil {
				return err
			}
		}
	case nAlt:
		var jumps []int
		for i, s := range n.subs {
			split := -1
			if i < len(n.subs)-1 {
				split = c.emit(inst{op: opSplit})
				c.prog[split].x = split + 1
			}
			if err := c.compile(s); err != nil {
				return err
			}
			if split >= 0 {
				jumps = append(jumps, c.emit(inst{op: opJmp}))
				c.prog[split].y = len(c.prog)
			}
		}
		for _, j := range jumps {
			c.prog[j].x = len(c.prog)
		}
	case nRepeat:
		return c.repeat(n)
	}
	return nil
}

// repeat compiles n.subs[0] n.min times, then up to n.max (or, unbounded,
// any number of times) more.
func (c *compiler) repeat(n *node) error {
	sub := n.subs[0]
	for range n.min {
		if err := c.compile(sub); err != nil {
			return err
		}
	}
	if n.max < 0 {
		loop := c.emit(inst{op: opSplit})
		c.prog[loop].x = loop + 1
		if err := c.compile(sub); err != nil {
			return err
		}
		c.emit(inst{op: opJmp, x: loop})
		c.prog[loop].y = len(c.prog)
		return nil
	}
	var splits []int
	for range n.max - n.min {
		s := c.emit(inst{op: opSplit})
		c.prog[s].x = s + 1
		splits = append(splits, s)
		if err := c.compile(sub); err != nil {
			return err
		}
	}
	for _, s := range splits {
		c.prog[s].y = len(c.prog)
	}
	return nil
}

// threads is a set of instruction indexes, in the order added.
type threads struct {
	dense  []int
	sparse []int
}

func newThreads(n int) *threads {
	return &threads{dense: make([]int, 0, n), sparse: make([]int, n)}
}

func (t *threads) has(pc int) bool {
	i := t.sparse[pc]
	return i < len(t.dense) && t.dense[i] == pc
}

func (t *threads) insert(pc int) {
	t.sparse[pc] = len(t.dense)
	t.dense = append(t.dense, pc)
}

// run reports whether the program matches anywhere in s.
func (re *Regexp) run(s string) bool {
	cur, next := newThreads(len(re.prog)), newThreads(len(re.prog))
	var stack []int
	for pos := 0; ; pos++ {
		// A match may start at every position.
		if re.add(cur, 0, s, pos, &stack) {
			return true
		}
		if pos == len(s) {
			return false
		}
		next.dense = next.dense[:0]
		for _, pc := range cur.dense {
			if i := &re.prog[pc]; i.op == opSet && i.set.has(s[pos]) {
				if re.add(next, pc+1, s, pos+1, &stack) {
					return true
				}
			}
		}
		cur, next = next, cur
	}
}

// add adds pc to t and follows the instructions that consume nothing
// from it at pos; it reports whether one of them is the match.
func (re *Regexp) add(t *threads, pc int, s string, pos int, stack *[]int) bool {
	*stack = append((*stack)[:0], pc)
	for len(*stack) > 0 {
		pc := (*stack)[len(*stack)-1]
		*stack = (*stack)[:len(*stack)-1]
		if t.has(pc) {
			continue
		}
		t.insert(pc)
		switch i := &re.prog[pc]; i.op {
		case opMatch:
			return true
		case opJmp:
			*stack = append(*stack, i.x)
		case opSplit:
			*stack = append(*stack, i.y, i.x)
		case opAssert:
			if holds(i.assert, s, pos) {
				*stack = append(*stack, pc+1)
			}
		}
	}
	return false
}

// holds reports whether assertion a holds at pos in s.
func holds(a assertKind, s string, pos int) bool {
	before, after := pos > 0 && isWord(s[pos-1]), pos < len(s) && isWord(s[pos])
	switch a {
	case assertBegin:
		return pos == 0
	case assertEnd:
		return pos == len(s)
	case assertWordBoundary:
		return before != after
	case assertNotWordBoundary:
		return before == after
	case assertWordStart:
		return !before && after
	case assertWordEnd:
		return before && !after
	}
	return false
}

// isWord reports whether c is a word character of \w.
func isWord(c byte) bool {
	return c == '_' || inClass("alnum", c)
}
