// Package fnmatch matches shell wildcard patterns exactly like glibc's
// fnmatch(3) called with flags 0 in the C locale, which is how kmod matches
// module aliases (kmod never calls setlocale, so it always runs in the C
// locale).
//
// # Semantics
//
// Patterns and names are byte strings: every byte, including bytes >= 0x80,
// is one character. With flags 0 there is no special treatment of '/' or of a
// leading '.', and backslash escaping is enabled.
//
//   - '*' matches any sequence of bytes, including the empty one; '?' matches
//     any single byte.
//   - '\x' matches the byte x literally, inside and outside brackets. A
//     backslash at the very end of the pattern makes the pattern match
//     nothing (so `\` does not even match "\").
//   - '[' starts a bracket expression that matches one byte. '!' or '^' right
//     after '[' negates it; a ']' that comes first (after the optional
//     negation) is an ordinary member, so "[]a]" matches "]" or "a".
//   - "a-z" is a range in byte order (the C locale's collation order). A
//     reversed range such as "[z-a]" matches nothing but is not an error. A
//     '-' that is first, or directly before the closing ']', is an ordinary
//     member; a '-' directly after a range ("[a-c-e]") is an ordinary member
//     too. A range end may be escaped ("[a-\]]") or a collating symbol
//     ("[a-[.z.]]").
//   - "[:name:]" is a character class with the C locale's ASCII-only
//     definitions: alnum alpha blank cntrl digit graph lower print punct
//     space upper xdigit. An unknown name ("[[:foo:]]"), or a name of 2048
//     letters or more, makes the whole pattern fail at that position. Text
//     after "[:" that cannot be a class name (anything but the letters
//     'a'..'y' before ":]" — note that 'z' is excluded) is not a class: '['
//     is then an ordinary member and parsing resumes at ':'.
//   - "[=c=]" (one byte c) matches c; "[.c.]" (one byte c) is the collating
//     symbol c, usable as a member or a range end point. A collating symbol
//     that is unterminated or has a length other than one byte makes the
//     pattern fail at that position; an ill-formed "[=" is an ordinary '['
//     (but see below). A collating symbol directly before "-]" is taken as
//     the start of a range that never comes, so "[[.a.]-]" matches "-" but
//     not "a".
//   - A '[' whose bracket expression is not terminated is an ordinary
//     character, and matching continues with the byte after it: "[ab"
//     matches "[ab" and "[*" matches "[" followed by anything. glibc decides
//     this lazily while scanning, and some ill-formed brackets fail instead
//     of falling back: "[a-" and "[a\" never match anything.
//   - Once a member has matched, glibc only skips to the closing ']', with
//     different checks: class names are not validated there ("[a[:foo:]]"
//     matches "a" although "[[:foo:]a]" matches nothing), an ill-formed
//     "[=" fails there ("[a[=b]" matches "[", "=" and "b" but not "a"), the
//     class-name limit is 2047 letters, and a well-formed "[:name:]" is
//     skipped as a unit even where the comparing scan would not have seen a
//     class, so the expression can end at a different ']' depending on the
//     byte: "[xa-[:alpha:]]" is a complete bracket for "x", but for "l" it
//     is "[xa-[:alpha:]" followed by a literal ']'.
//
// Match also reproduces glibc's handling of '*': once the pattern text
// between one '*' and the next has matched at the leftmost possible place,
// that choice is final. For ordinary patterns that is the same as trying
// every split; with brackets like the one above it is observable:
// "*[xa-[:alpha:]*]y" does not match "axy" (the bracket takes "a" and
// reaches the second '*', which commits), although it matches "xy".
//
// Match implements glibc's default treatment of '^'. glibc reads the
// environment variable POSIXLY_CORRECT on its first fnmatch call and, when
// it is set, treats '^' after '[' as an ordinary member instead of a
// negation; Match ignores the environment and always negates.
//
// # NUL bytes
//
// A C string cannot contain a NUL byte, so fnmatch never sees one. Match
// behaves like a C caller that converts its Go strings to C strings: both the
// pattern and the name are considered only up to their first NUL byte.
package fnmatch

import "strings"

// Match reports whether name matches the shell pattern exactly as glibc 2.36
// fnmatch(pattern, name, 0) does in the C locale (returns 0). See the package
// documentation for the rules, including glibc's quirks for ill-formed
// patterns. Only the bytes before the first NUL byte of pattern and of name
// are used, as a C caller would see them. Match does not allocate and never
// backtracks exponentially: it takes O(len(pattern)*len(name)) steps, or up
// to a further factor of len(pattern) for a pattern full of unterminated
// '[' (each is rescanned to the end of the pattern, as glibc does).
func Match(pattern, name string) bool {
	if i := strings.IndexByte(pattern, 0); i >= 0 {
		pattern = pattern[:i]
	}
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return match(pattern, name)
}

// HasMeta reports whether pattern contains any of * ? [ (useful for callers
// that want a fast exact-compare path).
//
// A backslash is not reported. That mirrors kmod's alias index, which
// compares the text before the first '*', '?' or '[' of a key byte for byte
// (a backslash included) and calls fnmatch only on the rest, from that
// wildcard on. For Match, though, a pattern with a backslash but no * ? [ is
// not literal: Match(`a\b`, "ab") is true. For a pattern p without NUL or
// backslash, !HasMeta(p) implies that Match(p, s) == (p == s) for every
// NUL-free s.
func HasMeta(pattern string) bool {
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '*', '?', '[':
			return true
		}
	}
	return false
}

// match is Match without the NUL truncation.
//
// It walks the pattern once, remembering only the most recent '*'. The text
// between two stars (a "segment") is matched deterministically, one name
// byte per pattern element; when a segment fails, it is retried one byte
// further to the right, and when it reaches the next '*' the choice is kept
// for good. That is exactly glibc's strategy, and it keeps the cost at
// O(len(p)*len(s)) instead of exponential.
//
// Runs of ordinary bytes are compared as whole strings, and the leading run
// of a segment is searched for with strings.Index, which only skips name
// positions where the segment cannot match.
func match(p, s string) bool {
	// The literal prefix before the first metacharacter.
	k := literalEnd(p, 0)
	if len(s) < k || s[:k] != p[:k] {
		return false
	}
	if k == len(p) {
		return len(s) == k
	}
	pi, si := k, k
	segP := -1 // start of the segment after the last '*', or -1 before any '*'
	segS := 0  // name position at which that segment is being tried
	lit := ""  // the segment's leading run of ordinary bytes
	for {
		if pi == len(p) {
			if si == len(s) {
				return true
			}
			goto fail
		}
		switch c := p[pi]; c {
		case '*':
			// Collapse the run of '*' and '?'; each '?' consumes a byte
			// before the star's position loop starts.
			for ; pi < len(p); pi++ {
				if p[pi] == '?' {
					if si == len(s) {
						return false
					}
					si++
				} else if p[pi] != '*' {
					break
				}
			}
			if pi == len(p) {
				return true
			}
			end := literalEnd(p, pi)
			lit = p[pi:end]
			if end == len(p) {
				// A final literal segment can only match as a suffix.
				return len(s)-len(lit) >= si && s[len(s)-len(lit):] == lit
			}
			if p[end] == '*' && len(lit) > 0 {
				// A literal segment up to the next star: its leftmost
				// occurrence is the one glibc commits to.
				i := strings.Index(s[si:], lit)
				if i < 0 {
					return false
				}
				pi = end
				si += i + len(lit)
				continue
			}
			segP = pi
			segS = si
			if !nextStart(p, s, segP, lit, &segS) {
				return false
			}
			pi = segP + len(lit)
			si = segS + len(lit)
			continue
		case '?':
			if si == len(s) {
				goto fail
			}
		case '\\':
			pi++
			if pi == len(p) || si == len(s) || s[si] != p[pi] {
				goto fail // a trailing backslash matches nothing
			}
		case '[':
			if si == len(s) {
				goto fail
			}
			end, r := matchBracket(p, pi, s[si])
			switch r {
			case bracketMatch:
				pi = end
				si++
				continue
			case bracketLiteral:
				if s[si] != '[' {
					goto fail
				}
			default:
				goto fail
			}
		default:
			end := literalEnd(p, pi)
			n := end - pi
			if len(s)-si < n || s[si:si+n] != p[pi:end] {
				goto fail
			}
			pi = end
			si += n
			continue
		}
		pi++
		si++
		continue

	fail:
		if segP < 0 {
			return false
		}
		segS++
		if !nextStart(p, s, segP, lit, &segS) {
			return false
		}
		pi = segP + len(lit)
		si = segS + len(lit)
	}
}

// literalEnd returns the index of the first '*', '?', '[' or backslash in p at or
// after i, or len(p).
func literalEnd(p string, i int) int {
	// Bitmaps of the four metacharacters among bytes 0-63 and 64-127.
	const lo = 1<<'*' | 1<<'?'
	const hi = 1<<('['-64) | 1<<('\\'-64)
	for ; i < len(p); i++ {
		c := p[i]
		m := uint64(lo)
		if c >= 64 {
			m = hi
		}
		if c < 128 && m>>(c&63)&1 != 0 {
			return i
		}
	}
	return i
}

// nextStart advances *segS to the first name position >= *segS at which the
// segment starting at p[segP] can possibly begin: the leading literal run
// lit must occur there, or, without one, an escaped first byte. It reports
// false when no position is left. On success lit is known to match.
func nextStart(p, s string, segP int, lit string, segS *int) bool {
	if *segS >= len(s) {
		return false
	}
	if len(lit) > 0 {
		i := strings.Index(s[*segS:], lit)
		if i < 0 {
			return false
		}
		*segS += i
		return true
	}
	if p[segP] != '\\' {
		return true // a bracket expression: no cheap filter
	}
	if segP+1 == len(p) {
		return false // trailing backslash: nothing matches
	}
	i := strings.IndexByte(s[*segS:], p[segP+1])
	if i < 0 {
		return false
	}
	*segS += i
	return true
}

// bracketResult is the outcome of matching one byte against a bracket
// expression.
type bracketResult uint8

const (
	// bracketNoMatch: the byte is not matched, or glibc gave up on an
	// ill-formed bracket expression; either way this position fails.
	bracketNoMatch bracketResult = iota
	// bracketMatch: the byte is matched; the returned index is just past the
	// closing ']'.
	bracketMatch
	// bracketLiteral: the bracket expression is unterminated, so '[' is an
	// ordinary character and matching continues just after it.
	bracketLiteral
)

// classNameMax is the length at which glibc gives up scanning a character
// class name (measured by behaviour testing glibc 2.36).
const classNameMax = 2048

// at returns p[i], or 0 (C's terminating NUL) when i is past the end.
func at(p string, i int) byte {
	if i < len(p) {
		return p[i]
	}
	return 0
}

// matchBracket matches byte ch against the bracket expression that starts
// with the '[' at p[start]. It returns the index just past the expression
// and the outcome. The index is meaningful only for bracketMatch.
//
// The scan mirrors glibc's observable behaviour: members are examined left to
// right until one matches; the rest of the expression is then only skipped
// over, with lighter checks (see skipBracket).
func matchBracket(p string, start int, ch byte) (int, bracketResult) {
	i := start + 1
	neg := false
	if b := at(p, i); b == '!' || b == '^' {
		neg = true
		i++
	}
	// Invariant at the top of the loop: c is the first byte of the next
	// member and i indexes the byte after it. The first member is never
	// taken as the closing ']'.
	c := at(p, i)
	i++
	for {
		var lo byte // low end of a potential range
		switch {
		case c == 0:
			return start + 1, bracketLiteral

		case c == '\\':
			if at(p, i) == 0 {
				return i, bracketNoMatch
			}
			c = p[i]
			i++
			// An escaped byte is an ordinary member.
			if c == ch && !rangeFollows(p, i) {
				return skipBracket(p, start, i, neg)
			}
			lo = c
			c = at(p, i)
			i++

		case c == '[' && at(p, i) == ':':
			// Scan a class name of letters 'a'..'y' up to ":]".
			j := i // index of the ':' after '['
			n := 0
			isClass := false
			for {
				if n == classNameMax {
					return i, bracketNoMatch
				}
				j++
				d := at(p, j)
				if d == ':' && at(p, j+1) == ']' {
					isClass = true
					break
				}
				if d < 'a' || d >= 'z' {
					break
				}
				n++
			}
			if !isClass {
				// Not a class: '[' is an ordinary member; resume at ':'.
				if ch == '[' {
					return skipBracket(p, start, i, neg)
				}
				lo = '['
				c = at(p, i)
				i++
				break
			}
			cls, ok := lookupClass(p[i+1 : j])
			if !ok {
				return i, bracketNoMatch // unknown class name
			}
			i = j + 2
			if inClass(cls, ch) {
				return skipBracket(p, start, i, neg)
			}
			c = at(p, i)
			i++
			if c == ']' {
				return notMatched(i, neg)
			}
			continue // a class cannot start a range

		case c == '[' && at(p, i) == '=':
			if q := at(p, i+1); q != 0 && at(p, i+2) == '=' && at(p, i+3) == ']' {
				i += 4
				if ch == q {
					return skipBracket(p, start, i, neg)
				}
				c = at(p, i)
				i++
				if c == ']' {
					return notMatched(i, neg)
				}
				continue // an equivalence class cannot start a range
			}
			// Ill-formed: '[' is an ordinary member; resume at '='.
			if ch == '[' {
				return skipBracket(p, start, i, neg)
			}
			lo = '['
			c = at(p, i)
			i++

		case c == '[' && at(p, i) == '.':
			sym, end, ok := collatingSymbol(p, i)
			if !ok {
				return i, bracketNoMatch
			}
			i = end
			// Unlike an ordinary byte, a collating symbol followed by "-]"
			// is taken as the start of a range (which then does not happen,
			// so the symbol is not matched at all and '-' is a member).
			isRange := at(p, i) == '-' && at(p, i+1) != 0
			if !isRange && ch == sym {
				return skipBracket(p, start, i, neg)
			}
			lo = sym
			c = at(p, i)
			i++

		default:
			if c == ch && !rangeFollows(p, i) {
				return skipBracket(p, start, i, neg)
			}
			lo = c
			c = at(p, i)
			i++
		}

		// lo was a single member; c and i follow it. A '-' not directly
		// before ']' makes lo the start of a range.
		if c == '-' && at(p, i) != ']' {
			hi := at(p, i)
			i++
			if hi == '[' && at(p, i) == '.' {
				sym, end, ok := collatingSymbol(p, i)
				if !ok {
					return i, bracketNoMatch
				}
				hi = sym
				i = end
			} else {
				if hi == '\\' {
					hi = at(p, i)
					i++
				}
				if hi == 0 {
					return i, bracketNoMatch
				}
			}
			if lo <= ch && ch <= hi {
				return skipBracket(p, start, i, neg)
			}
			c = at(p, i)
			i++
		}
		if c == ']' {
			return notMatched(i, neg)
		}
	}
}

// rangeFollows reports whether the ordinary member just before p[i] starts a
// range ("-" followed by something other than ']' or the end). When the
// '-' is last before the end of the pattern, glibc does not treat the member
// as a range start for comparison, but still parses "-" as a range below,
// whose missing end then fails the match.
func rangeFollows(p string, i int) bool {
	return at(p, i) == '-' && at(p, i+1) != 0 && at(p, i+1) != ']'
}

// notMatched is the outcome of a complete bracket expression none of whose
// members matched; end is just past its ']'.
func notMatched(end int, neg bool) (int, bracketResult) {
	if neg {
		return end, bracketMatch
	}
	return end, bracketNoMatch
}

// collatingSymbol parses the collating symbol whose "[." has its '.' at p[i].
// In the C locale only single-byte symbols exist. It returns the symbol's
// byte and the index just past ".]"; ok is false when the symbol is
// unterminated or not exactly one byte long.
func collatingSymbol(p string, i int) (sym byte, end int, ok bool) {
	j := i + 1
	for {
		d := at(p, j)
		if d == '.' && at(p, j+1) == ']' {
			break
		}
		if d == 0 {
			return 0, 0, false
		}
		j++
	}
	if j-(i+1) != 1 {
		return 0, 0, false
	}
	return p[i+1], j + 2, true
}

// skipBracket finishes a bracket expression after the member ending just
// before p[i] has matched. Like glibc it only looks for the closing ']',
// stepping over escapes, "[:...:]", "[=.=]" and "[...]" with checks that
// differ from those made while members are still being compared.
func skipBracket(p string, start, i int, neg bool) (int, bracketResult) {
	for {
		c := at(p, i)
		i++
		switch {
		case c == ']':
			if neg {
				return i, bracketNoMatch
			}
			return i, bracketMatch
		case c == 0:
			return start + 1, bracketLiteral
		case c == '\\':
			if at(p, i) == 0 {
				return i, bracketNoMatch
			}
			i++
		case c == '[' && at(p, i) == ':':
			j := i
			for n := 1; ; n++ {
				j++
				if n == classNameMax {
					return i, bracketNoMatch
				}
				d := at(p, j)
				if d == ':' && at(p, j+1) == ']' {
					i = j + 2
					break
				}
				if d < 'a' || d >= 'z' {
					break // '[' was ordinary; resume at ':'
				}
			}
		case c == '[' && at(p, i) == '=':
			if at(p, i+1) == 0 || at(p, i+2) != '=' || at(p, i+3) != ']' {
				return i, bracketNoMatch
			}
			i += 4
		case c == '[' && at(p, i) == '.':
			j := i + 1
			for {
				d := at(p, j)
				if d == 0 {
					return i, bracketNoMatch
				}
				if d == '.' && at(p, j+1) == ']' {
					break
				}
				j++
			}
			i = j + 2
		}
	}
}

// charClass is one of the C locale's character classes.
type charClass uint8

const (
	classAlnum charClass = iota
	classAlpha
	classBlank
	classCntrl
	classDigit
	classGraph
	classLower
	classPrint
	classPunct
	classSpace
	classUpper
	classXdigit
)

// lookupClass returns the class called name, if the C locale defines it.
func lookupClass(name string) (charClass, bool) {
	switch name {
	case "alnum":
		return classAlnum, true
	case "alpha":
		return classAlpha, true
	case "blank":
		return classBlank, true
	case "cntrl":
		return classCntrl, true
	case "digit":
		return classDigit, true
	case "graph":
		return classGraph, true
	case "lower":
		return classLower, true
	case "print":
		return classPrint, true
	case "punct":
		return classPunct, true
	case "space":
		return classSpace, true
	case "upper":
		return classUpper, true
	case "xdigit":
		return classXdigit, true
	}
	return 0, false
}

// inClass reports whether b belongs to class cls in the C locale, where
// every class is a subset of ASCII.
func inClass(cls charClass, b byte) bool {
	isUpper := 'A' <= b && b <= 'Z'
	isLower := 'a' <= b && b <= 'z'
	isDigit := '0' <= b && b <= '9'
	isGraph := '!' <= b && b <= '~'
	switch cls {
	case classAlnum:
		return isUpper || isLower || isDigit
	case classAlpha:
		return isUpper || isLower
	case classBlank:
		return b == ' ' || b == '\t'
	case classCntrl:
		return b < ' ' || b == 0x7f
	case classDigit:
		return isDigit
	case classGraph:
		return isGraph
	case classLower:
		return isLower
	case classPrint:
		return isGraph || b == ' '
	case classPunct:
		return isGraph && !isUpper && !isLower && !isDigit
	case classSpace:
		return b == ' ' || '\t' <= b && b <= '\r'
	case classUpper:
		return isUpper
	case classXdigit:
		return isDigit || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
	}
	return false
}
