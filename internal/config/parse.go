package config

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/gokmod/modprobe/internal/modname"
)

// logicalLines splits data into logical lines the way libkmod's
// freadline_wrapped does: a backslash before a newline joins the lines, a
// backslash before any other byte keeps only that byte, and a backslash at
// the end of the file is dropped (kmod 30 stores the EOF it reads as a
// 0xff byte instead: eofByte). fn gets each line, cut at its first NUL
// byte as C would see it, and the number of its last physical line; the
// line is valid during the call only (it is data itself or a buffer
// reused for the next line).
func logicalLines(data []byte, eofByte bool, fn func(line []byte, num int)) {
	num := 0
	var buf []byte
lines:
	for len(data) > 0 {
		end := bytes.IndexByte(data, '\n')
		line, rest := data, []byte(nil)
		if end >= 0 {
			line, rest = data[:end], data[end+1:]
		}
		if bytes.IndexByte(line, '\\') < 0 {
			// Without a backslash the physical line is the logical one:
			// given as it is, not copied byte by byte.
			num++
			fn(cutNUL(line), num)
			data = rest
			continue
		}
		// A backslash: the line is joined byte by byte, up to the
		// newline that ends it, however many physical lines it takes.
		buf = buf[:0]
		for i := 0; ; {
			if i >= len(data) {
				if len(buf) > 0 {
					num++
					fn(cutNUL(buf), num)
				}
				return
			}
			c := data[i]
			i++
			switch c {
			case '\n':
				num++
				fn(cutNUL(buf), num)
				data = data[i:]
				continue lines
			case '\\':
				if i >= len(data) {
					if eofByte {
						buf = append(buf, 0xff)
					}
					continue
				}
				c = data[i]
				i++
				if c == '\n' {
					num++
					continue
				}
				buf = append(buf, c)
			default:
				buf = append(buf, c)
			}
		}
	}
}

func cutNUL(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// tokenizer reproduces strtok_r over one line.
type tokenizer struct {
	s   string
	pos int
}

// next returns the next token separated by spaces or tabs; ok is false when
// the line has none left.
func (t *tokenizer) next() (string, bool) {
	for t.pos < len(t.s) && (t.s[t.pos] == ' ' || t.s[t.pos] == '\t') {
		t.pos++
	}
	if t.pos >= len(t.s) {
		return "", false
	}
	start := t.pos
	for t.pos < len(t.s) && t.s[t.pos] != ' ' && t.s[t.pos] != '\t' {
		t.pos++
	}
	tok := t.s[start:t.pos]
	if t.pos < len(t.s) {
		t.pos++ // the separator is consumed with the token
	}
	return tok, true
}

// rest returns the remainder of the line after the last token and its one
// separator, as strtok_r with an empty delimiter set does; ok is false when
// nothing remains.
func (t *tokenizer) rest() (string, bool) {
	if t.pos >= len(t.s) {
		return "", false
	}
	r := t.s[t.pos:]
	t.pos = len(t.s)
	return r, true
}

// parseFile adds the directives of one file to c.
func (c *Config) parseFile(data []byte, file string, diag func(Diag)) {
	// modules.softdep holds dozens of softdep lines: room for them at
	// once, not a slice of 160-byte entries grown through seven size
	// classes, each a fresh span and page in a short process.
	if n := bytes.Count(data, []byte("softdep")); n > 0 {
		c.Softdeps = slices.Grow(c.Softdeps, n)
	}
	logicalLines(data, c.dialect == Kmod30, func(b []byte, num int) {
		if len(b) == 0 || b[0] == '#' {
			return
		}
		line := string(b)
		t := tokenizer{s: line}
		cmd, ok := t.next()
		if !ok {
			return
		}
		pos := Pos{File: file, Line: num}
		if !c.directive(cmd, &t, pos) {
			if cmd == "include" || cmd == "config" {
				diag(Diag{Code: Deprecated, Pos: pos,
					Msg: fmt.Sprintf("%s: command %s is deprecated and not parsed anymore", file, cmd)})
				return
			}
			diag(Diag{Code: BadLine, Pos: pos,
				Msg: fmt.Sprintf("%s line %d: ignoring bad line starting with '%s'", file, num, cmd)})
		}
	})
}

// field returns the next token normalized by underscores(); ok is false if
// it is missing or has an unmatched bracket.
func field(t *tokenizer) (string, bool) {
	tok, ok := t.next()
	if !ok {
		return "", false
	}
	n, err := modname.Underscores(tok)
	return n, err == nil
}

// directive stores one directive; it returns false for a bad line.
func (c *Config) directive(cmd string, t *tokenizer, pos Pos) bool {
	switch cmd {
	case "alias":
		alias, ok1 := field(t)
		mod, ok2 := field(t)
		if !ok1 || !ok2 {
			return false
		}
		c.Aliases = append(c.Aliases, Alias{Pattern: alias, Module: mod, Pos: pos})
	case "blacklist":
		mod, ok := field(t)
		if !ok {
			return false
		}
		c.Blacklist = append(c.Blacklist, Blacklist{Module: mod, Pos: pos})
	case "options":
		mod, ok1 := field(t)
		opts, ok2 := t.rest()
		if !ok1 || !ok2 {
			return false
		}
		c.addOptions(mod, opts, pos)
	case "install", "remove":
		mod, ok1 := field(t)
		command, ok2 := t.rest()
		if !ok1 || !ok2 {
			return false
		}
		cmdEntry := Command{Module: mod, Command: command, Pos: pos}
		if cmd == "install" {
			c.Install = append(c.Install, cmdEntry)
		} else {
			c.Remove = append(c.Remove, cmdEntry)
		}
	case "softdep":
		mod, ok1 := field(t)
		deps, ok2 := t.rest()
		if !ok1 || !ok2 {
			return false
		}
		c.Softdeps = append(c.Softdeps, parseSoftdep(mod, deps, pos))
	case "weakdep":
		if c.dialect == Kmod30 {
			return false
		}
		mod, ok1 := field(t)
		deps, ok2 := t.rest()
		if !ok1 || !ok2 {
			return false
		}
		c.Weakdeps = append(c.Weakdeps, Weakdep{Module: mod, Deps: splitSpace(deps), Pos: pos})
	default:
		return false
	}
	return true
}

func (c *Config) addOptions(mod, opts string, pos Pos) {
	c.Options = append(c.Options, Option{Module: mod, Options: strings.ReplaceAll(opts, "\t", " "), Pos: pos})
}

// parseSoftdep splits a softdep list the way libkmod does. Names before
// the first "pre:" or "post:" are dropped. A token is only recognized as a
// keyword when it starts right after a single separator, so a list that
// begins with whitespace loses its first keyword, as in libkmod.
func parseSoftdep(mod, line string, pos Pos) Softdep {
	sd := Softdep{Module: mod, Pos: pos}
	const (
		none = iota
		pre
		post
	)
	mode := none
	wasSpace := false
	p := 0
	for s := 0; ; s++ {
		end := s >= len(line)
		if !end {
			if !isSpace(line[s]) {
				wasSpace = false
				continue
			}
			if wasSpace {
				p = s + 1
				continue
			}
			wasSpace = true
			if p >= s {
				continue
			}
		}
		tok := line[p:min(s, len(line))]
		switch {
		case tok == "pre:":
			mode = pre
		case tok == "post:":
			mode = post
		case !end || !wasSpace:
			switch mode {
			case pre:
				sd.pre = append(sd.pre, len(sd.all))
				sd.all = append(sd.all, tok)
				sd.Pre = append(sd.Pre, tok)
			case post:
				sd.post = append(sd.post, len(sd.all))
				sd.all = append(sd.all, tok)
				sd.Post = append(sd.Post, tok)
			}
		}
		p = s + 1
		if end {
			return sd
		}
	}
}

// splitSpace splits s at runs of C whitespace.
func splitSpace(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) })
}

// LogicalLines splits data into lines as libkmod's freadline_wrapped does
// (see logicalLines), for other kmod configuration formats (depmod.d);
// kmod30 selects kmod 30's handling of a backslash at the end of the file.
func LogicalLines(data []byte, kmod30 bool, fn func(line []byte, num int)) {
	logicalLines(data, kmod30, fn)
}
