package ere

import (
	"fmt"
	"strings"
)

// nodeKind is what a node of a parsed pattern is.
type nodeKind int

const (
	nSet    nodeKind = iota // one byte of set
	nAssert                 // a zero-width assertion
	nCat                    // subs, one after the other
	nAlt                    // one of subs
	nRepeat                 // subs[0], min to max times (max < 0: no bound)
)

// node is a parsed pattern.
type node struct {
	kind     nodeKind
	set      byteSet
	assert   assertKind
	subs     []*node
	min, max int
}

// dupMax is glibc's RE_DUP_MAX, the largest bound of a {m,n}.
const dupMax = 0x7fff

// parser reads a pattern by glibc's RE_SYNTAX_POSIX_EXTENDED: a
// repetition operator with nothing before it is an error, an unmatched
// ')' is an ordinary character.
type parser struct {
	src string
	pos int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w %q: %s at offset %d", ErrSyntax, p.src, fmt.Sprintf(format, args...), p.pos)
}

func (p *parser) eof() bool  { return p.pos >= len(p.src) }
func (p *parser) peek() byte { return p.src[p.pos] }

func (p *parser) parse() (*node, error) {
	return p.alternation(0)
}

// alternation reads branches separated by '|' up to the end, or up to the
// ')' that closes a group when depth > 0.
func (p *parser) alternation(depth int) (*node, error) {
	alt := &node{kind: nAlt}
	for {
		branch, err := p.branch(depth)
		if err != nil {
			return nil, err
		}
		alt.subs = append(alt.subs, branch)
		if p.eof() || p.peek() != '|' {
			break
		}
		p.pos++
	}
	if len(alt.subs) == 1 {
		return alt.subs[0], nil
	}
	return alt, nil
}

// branch reads repeated atoms up to '|', the end, or a group's ')'.
func (p *parser) branch(depth int) (*node, error) {
	cat := &node{kind: nCat}
	for !p.eof() {
		c := p.peek()
		if c == '|' || (c == ')' && depth > 0) {
			break
		}
		atom, err := p.atom(depth)
		if err != nil {
			return nil, err
		}
		if atom, err = p.repetitions(atom); err != nil {
			return nil, err
		}
		cat.subs = append(cat.subs, atom)
	}
	return cat, nil
}

// atom reads one atom: a group, a bracket expression, '.', an anchor, a
// backslash sequence or an ordinary character.
func (p *parser) atom(depth int) (*node, error) {
	c := p.peek()
	switch c {
	case '*', '+', '?', '{':
		return nil, p.errorf("repetition operator %q with nothing to repeat", c)
	case '(':
		p.pos++
		sub, err := p.alternation(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.eof() {
			return nil, p.errorf("unmatched '('")
		}
		p.pos++
		return sub, nil
	case '[':
		p.pos++
		return p.bracket()
	case '.':
		p.pos++
		var s byteSet
		s.addRange(1, 0xff)
		return &node{kind: nSet, set: s}, nil
	case '^':
		p.pos++
		return &node{kind: nAssert, assert: assertBegin}, nil
	case '$':
		p.pos++
		return &node{kind: nAssert, assert: assertEnd}, nil
	case '\\':
		p.pos++
		return p.escape()
	}
	p.pos++
	return literal(c), nil
}

// literal is the node matching byte c.
func literal(c byte) *node {
	var s byteSet
	s.add(c)
	return &node{kind: nSet, set: s}
}

// escape reads what follows a backslash outside a bracket expression.
func (p *parser) escape() (*node, error) {
	if p.eof() {
		return nil, p.errorf("trailing backslash")
	}
	c := p.peek()
	p.pos++
	switch c {
	case 'w', 'W', 's', 'S':
		// \w is [[:alnum:]_], \s [[:space:]]; the capitals negate them.
		s := classSet("space")
		if c == 'w' || c == 'W' {
			s = classSet("alnum")
			s.add('_')
		}
		if c == 'W' || c == 'S' {
			s.negate()
		}
		return &node{kind: nSet, set: s}, nil
	}
	// GNU's assertions: \b \B \< \> \` \'.
	if i := strings.IndexByte("bB<>`'", c); i >= 0 {
		kinds := [...]assertKind{assertWordBoundary, assertNotWordBoundary, assertWordStart, assertWordEnd, assertBegin, assertEnd}
		return &node{kind: nAssert, assert: kinds[i]}, nil
	}
	if c >= '1' && c <= '9' {
		return nil, p.errorf("back-reference \\%c", c)
	}
	return literal(c), nil
}

// repetitions applies the repetition operators after atom.
func (p *parser) repetitions(atom *node) (*node, error) {
	for !p.eof() {
		min, max := 0, 0
		switch p.peek() {
		case '*':
			min, max = 0, -1
		case '+':
			min, max = 1, -1
		case '?':
			min, max = 0, 1
		case '{':
			var err error
			if min, max, err = p.interval(); err != nil {
				return nil, err
			}
		default:
			return atom, nil
		}
		p.pos++
		if atom.kind == nAssert {
			return nil, p.errorf("repetition of an anchor")
		}
		atom = &node{kind: nRepeat, subs: []*node{atom}, min: min, max: max}
	}
	return atom, nil
}

// interval reads "{m}", "{m,}" or "{m,n}" at p.pos, and leaves p.pos on
// its last byte.
func (p *parser) interval() (min, max int, err error) {
	start := p.pos
	p.pos++
	num := func() (int, bool) {
		n, digits := 0, 0
		for !p.eof() && p.peek() >= '0' && p.peek() <= '9' {
			n = n*10 + int(p.peek()-'0')
			if n > dupMax {
				n = dupMax + 1
			}
			p.pos++
			digits++
		}
		return n, digits > 0
	}
	min, ok := num()
	if !ok {
		p.pos = start
		return 0, 0, p.errorf("bad interval")
	}
	max = min
	if !p.eof() && p.peek() == ',' {
		p.pos++
		var bounded bool
		if max, bounded = num(); !bounded {
			max = -1
		}
	}
	if p.eof() || p.peek() != '}' {
		p.pos = start
		return 0, 0, p.errorf("bad interval")
	}
	if min > dupMax || max > dupMax || (max >= 0 && max < min) {
		p.pos = start
		return 0, 0, p.errorf("bad interval bounds")
	}
	return min, max, nil
}
