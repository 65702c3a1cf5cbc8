package ere

import "strings"

// byteSet is a set of bytes.
type byteSet [4]uint64

func (s *byteSet) add(c byte)      { s[c>>6] |= 1 << (c & 63) }
func (s *byteSet) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }
func (s *byteSet) union(o byteSet) {
	s[0], s[1], s[2], s[3] = s[0]|o[0], s[1]|o[1], s[2]|o[2], s[3]|o[3]
}
func (s *byteSet) negate() { s[0], s[1], s[2], s[3] = ^s[0], ^s[1], ^s[2], ^s[3] }
func (s *byteSet) addRange(lo, hi byte) { // lo <= hi
	for c := int(lo); c <= int(hi); c++ {
		s.add(byte(c))
	}
}

// classSet is the set of a [:name:] class in the C locale; empty for a
// name that is none.
func classSet(name string) byteSet {
	var s byteSet
	for c := 0; c < 256; c++ {
		if inClass(name, byte(c)) {
			s.add(byte(c))
		}
	}
	return s
}

// inClass reports whether c is in the C locale's class name.
func inClass(name string, c byte) bool {
	upper, lower, digit := c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9'
	graph := c > ' ' && c < 0x7f
	switch name {
	case "alpha":
		return upper || lower
	case "upper":
		return upper
	case "lower":
		return lower
	case "digit":
		return digit
	case "xdigit":
		return digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
	case "alnum":
		return upper || lower || digit
	case "punct":
		return graph && !upper && !lower && !digit
	case "space":
		return c == ' ' || (c >= '\t' && c <= '\r')
	case "blank":
		return c == ' ' || c == '\t'
	case "cntrl":
		return c < ' ' || c == 0x7f
	case "graph":
		return graph
	case "print":
		return graph || c == ' '
	}
	return false
}

// classNames are the classes a bracket expression may name.
const classNames = " alpha upper lower digit xdigit alnum punct space blank cntrl graph print "

// bracket reads a bracket expression after its '['. A backslash is an
// ordinary character in it; ']' first, and '-' first or last, are too.
func (p *parser) bracket() (*node, error) {
	start := p.pos - 1
	var set byteSet
	negate := !p.eof() && p.peek() == '^'
	if negate {
		p.pos++
	}
	for first := true; ; first = false {
		if p.eof() {
			p.pos = start
			return nil, p.errorf("unmatched '['")
		}
		if p.peek() == ']' && !first {
			p.pos++
			break
		}
		lo, class, err := p.bracketElement()
		if err != nil {
			return nil, err
		}
		if class != "" {
			set.union(classSet(class))
			if p.rangeFollows() {
				return nil, p.errorf("range from a class")
			}
			continue
		}
		if !p.rangeFollows() {
			set.add(lo)
			continue
		}
		p.pos++ // '-'
		hi, class, err := p.bracketElement()
		if err != nil {
			return nil, err
		}
		if class != "" || hi < lo {
			return nil, p.errorf("bad range")
		}
		set.addRange(lo, hi)
	}
	if negate {
		set.negate()
	}
	return &node{kind: nSet, set: set}, nil
}

// rangeFollows reports whether a '-' that makes a range comes next: one
// not followed by the bracket's ']'.
func (p *parser) rangeFollows() bool {
	return p.pos+1 < len(p.src) && p.src[p.pos] == '-' && p.src[p.pos+1] != ']'
}

// bracketElement reads one element of a bracket expression: a byte, a
// [.c.] collating symbol or [=c=] equivalence class of one byte (the C
// locale has no others), or a [:name:] class, whose name it returns.
func (p *parser) bracketElement() (c byte, class string, err error) {
	if p.peek() == '[' && p.pos+1 < len(p.src) {
		if delim := p.src[p.pos+1]; delim == '.' || delim == '=' || delim == ':' {
			end := strings.Index(p.src[p.pos+2:], string(delim)+"]")
			if end < 0 {
				return 0, "", p.errorf("unterminated [%c", delim)
			}
			body := p.src[p.pos+2 : p.pos+2+end]
			if delim == ':' {
				if body == "" || !strings.Contains(classNames, " "+body+" ") {
					return 0, "", p.errorf("unknown class [:%s:]", body)
				}
				p.pos += end + 4
				return 0, body, nil
			}
			if len(body) != 1 {
				return 0, "", p.errorf("unknown collating element [%c%s%c]", delim, body, delim)
			}
			p.pos += end + 4
			return body[0], "", nil
		}
	}
	c = p.peek()
	p.pos++
	return c, "", nil
}
