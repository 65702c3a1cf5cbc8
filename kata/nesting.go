package kata

import "strings"

// nesting scans the text of a configuration.toml for keys nested deeper
// than MaxNesting, before the TOML decoder sees it: the decoder copies a
// key's whole path at each level it descends, so that a key n levels deep
// costs n² (a 32 KiB file of nested inline tables allocates 3.4 GiB).
//
// The scan knows just enough TOML to tell keys from values: strings of
// the four kinds and comments are skipped, a "[" that opens a line
// outside any value is a table header, a key starts a line or follows the
// "{" or "," of an inline table, and "{" and "[" in values open a level.
// It does not validate: whatever it cannot read is left to the decoder,
// which refuses it.
type nesting struct {
	data []byte
	i    int
	line int // the line of data[i], from 1
	// header is the level of the current table: the components of its
	// header, one more for an array of tables.
	header int
	// open holds the "{" and "[" open around data[i], innermost last,
	// with their levels.
	open []level
}

// level is an inline table or array and how deep it is.
type level struct {
	c     byte // '{' or '['
	depth int
}

// tooDeep returns the line of the first key or value nested more than
// MaxNesting levels, or 0. A key's level is its table's, or its inline
// table's, plus its dotted components; an inline table is at the level of
// the key or array element holding it, an array one level below.
func (s *nesting) tooDeep() int {
	s.line = 1
	// The decoder reads over a byte-order mark, UTF-16's too: so does
	// the scan, or the first line's key would escape it.
	for _, bom := range []string{"\xff\xfe", "\xfe\xff", "\xef\xbb\xbf"} {
		if strings.HasPrefix(string(s.data), bom) {
			s.i = len(bom)
			break
		}
	}
	key := true // a key may start here
	at := 0     // the level of the value that may start here
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '\n':
			s.line++
			s.i++
			if len(s.open) == 0 {
				key = true
			}
		case c == ' ' || c == '\t' || c == '\r':
			s.i++
		case c == '#':
			for s.i < len(s.data) && s.data[s.i] != '\n' {
				s.i++
			}
		case c == '[' && key && len(s.open) == 0:
			// A table header, or an array of tables: [a.b] or [[a.b]].
			s.i++
			s.header = 0
			if s.i < len(s.data) && s.data[s.i] == '[' {
				s.i++
				s.header = 1
			}
			s.skipBlanks()
			s.header += s.keyPath()
			if s.header > MaxNesting {
				return s.line
			}
			key = false
		case key && (c == '"' || c == '\'' || isBareKey(c)):
			at = s.header
			if len(s.open) > 0 {
				at = s.open[len(s.open)-1].depth
			}
			at += s.keyPath()
			if at > MaxNesting {
				return s.line
			}
			key = false
		case c == '"' || c == '\'':
			s.skipString()
		case c == '{' || c == '[':
			// An inline table is the map at its key's level; an array
			// adds one for the index. Valid TOML never has more tables
			// and arrays open than levels.
			if c == '[' {
				at++
			}
			if at > MaxNesting || len(s.open) >= MaxNesting {
				return s.line
			}
			s.open = append(s.open, level{c, at})
			s.i++
			key = c == '{'
		case c == '}' || c == ']':
			if len(s.open) > 0 {
				s.open = s.open[:len(s.open)-1]
			}
			if len(s.open) > 0 {
				at = s.open[len(s.open)-1].depth
			}
			s.i++
			key = false
		case c == ',':
			s.i++
			if len(s.open) > 0 {
				top := s.open[len(s.open)-1]
				key, at = top.c == '{', top.depth
			}
		default:
			s.i++
			key = false
		}
	}
	return 0
}

// keyPath reads a dotted key (a.b."c.d".'e') from data[i] and returns its
// number of components; it stops before the first byte that does not
// continue the key.
func (s *nesting) keyPath() int {
	n := 0
	for s.i < len(s.data) {
		start := s.i
		switch s.data[s.i] {
		case '"', '\'':
			s.skipString()
		default:
			for s.i < len(s.data) && isBareKey(s.data[s.i]) {
				s.i++
			}
		}
		if s.i == start {
			break
		}
		n++
		s.skipBlanks()
		if s.i >= len(s.data) || s.data[s.i] != '.' {
			break
		}
		s.i++
		s.skipBlanks()
	}
	return n
}

// skipBlanks skips spaces and tabs.
func (s *nesting) skipBlanks() {
	for s.i < len(s.data) && (s.data[s.i] == ' ' || s.data[s.i] == '\t') {
		s.i++
	}
}

// skipString skips the string whose opening quote is data[i]: basic
// ("..." with backslash escapes), literal ('...'), or their multi-line
// forms ("""...""" and ”'...”', which may end with up to two more
// quotes of content). A single-line string ends at its line's end when it
// is not closed there, which the decoder refuses.
func (s *nesting) skipString() {
	q := s.data[s.i]
	multi := s.i+2 < len(s.data) && s.data[s.i+1] == q && s.data[s.i+2] == q
	if multi {
		s.i += 3
	} else {
		s.i++
	}
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '\\' && q == '"':
			s.i++
			if s.i < len(s.data) && s.data[s.i] == '\n' {
				s.line++
			}
		case c == '\n':
			if !multi {
				return
			}
			s.line++
		case c == q && !multi:
			s.i++
			return
		case c == q && s.i+2 < len(s.data) && s.data[s.i+1] == q && s.data[s.i+2] == q:
			s.i += 3
			for k := 0; k < 2 && s.i < len(s.data) && s.data[s.i] == q; k++ {
				s.i++
			}
			return
		}
		s.i++
	}
}

// isBareKey reports whether c may appear in a bare key.
func isBareKey(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}
