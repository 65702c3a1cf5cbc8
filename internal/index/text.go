package index

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/gokmod/modprobe/internal/modname"
)

// A ParseError reports a line of a text index that was skipped.
type ParseError struct {
	File string
	Line int
	Msg  string
	// Value is the offending value, for an unmatched bracket.
	Value string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Priorities maps module names to their depmod priority: the position of
// the module's line in modules.dep, which depmod writes in index order.
type Priorities map[string]uint32

// of returns the priority of mod; a module that modules.dep does not list
// sorts after every listed one.
func (p Priorities) of(mod string) uint32 {
	if v, ok := p[mod]; ok {
		return v
	}
	return uint32(len(p))
}

// textReader is a reader of text already in memory, which lines splits
// without copying it again (a 10 MB modules.dep line is one string, not
// three).
type textReader struct {
	*strings.Reader
	text string
}

// newTextReader returns a reader of text for the Build functions.
func newTextReader(text string) *textReader {
	return &textReader{strings.NewReader(text), text}
}

// lines calls fn with each line of r (without its newline) and its number.
func lines(r io.Reader, fn func(line string, n int) error) error {
	if tr, ok := r.(*textReader); ok {
		rest := tr.text
		for n := 1; rest != ""; n++ {
			line, after, _ := strings.Cut(rest, "\n")
			rest = after
			if err := fn(line, n); err != nil {
				return err
			}
		}
		return nil
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if len(line) > 0 {
			if ferr := fn(strings.TrimSuffix(line, "\n"), n); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// BuildDep builds modules.dep.bin from the text modules.dep read from r:
// each line "path: dep dep..." is stored under the module name of path with
// the whole line as value. file names r in errors. The returned priorities
// are what the other text indexes need.
func BuildDep(r io.Reader, file string) (*Builder, Priorities, []error, error) {
	b := &Builder{}
	prio := Priorities{}
	var bad []error
	err := lines(r, func(line string, n int) error {
		if line == "" || line[0] == '#' {
			return nil
		}
		path, _, ok := strings.Cut(line, ":")
		name := modname.FromPath(path)
		if !ok || name == "" {
			bad = append(bad, &ParseError{File: file, Line: n, Msg: "expected \"path: dependencies\""})
			return nil
		}
		p := uint32(len(prio))
		if _, dup := prio[name]; !dup {
			prio[name] = p
		}
		if err := b.Add(name, line, p); err != nil {
			bad = append(bad, &ParseError{File: file, Line: n, Msg: err.Error()})
		}
		return nil
	})
	return b, prio, bad, err
}

// BuildAlias builds modules.alias.bin or modules.symbols.bin from its text
// form: lines "alias PATTERN MODULE". For the alias index (normalize true)
// the key is the pattern normalized as kmod's depmod does; the symbols
// index keeps "symbol:NAME" as it is.
func BuildAlias(r io.Reader, file string, prio Priorities, normalize bool) (*Builder, []error, error) {
	b := &Builder{}
	var bad []error
	err := lines(r, func(line string, n int) error {
		if line == "" || line[0] == '#' {
			return nil
		}
		rest, ok := strings.CutPrefix(line, "alias ")
		i := strings.LastIndexByte(rest, ' ')
		if !ok || i <= 0 || i == len(rest)-1 {
			bad = append(bad, &ParseError{File: file, Line: n, Msg: "expected \"alias PATTERN MODULE\""})
			return nil
		}
		key, mod := rest[:i], rest[i+1:]
		if normalize {
			k, err := modname.Alias(key)
			if err != nil {
				bad = append(bad, &ParseError{File: file, Line: n, Msg: fmt.Sprintf("unmatched bracket in %s", key)})
				return nil
			}
			key = k
		}
		if err := b.Add(key, mod, prio.of(mod)); err != nil {
			bad = append(bad, &ParseError{File: file, Line: n, Msg: err.Error()})
		}
		return nil
	})
	return b, bad, err
}

// BuildBuiltin builds modules.builtin.bin from modules.builtin: each line
// is the path a builtin module would have; the key is its module name and
// the value is empty. Like depmod, lines that do not start with a letter
// are rejected.
func BuildBuiltin(r io.Reader, file string) (*Builder, []error, error) {
	b := &Builder{}
	var bad []error
	err := lines(r, func(line string, n int) error {
		if line == "" || !isAlpha(line[0]) {
			bad = append(bad, &ParseError{File: file, Line: n, Msg: fmt.Sprintf("invalid modules.builtin line: %q", line)})
			return nil
		}
		// depmod reads the line as a C string: a NUL ends it.
		if i := strings.IndexByte(line, 0); i >= 0 {
			line = line[:i]
		}
		name := modname.FromPath(line)
		if err := b.Add(name, "", 0); err != nil {
			bad = append(bad, &ParseError{File: file, Line: n, Msg: err.Error()})
		}
		return nil
	})
	return b, bad, err
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// BuildBuiltinAlias builds modules.builtin.alias.bin from
// modules.builtin.modinfo, a run of "module.key=value" records each ended
// by a NUL byte: every alias record adds its normalized value as a key
// with the module as value. Records are read with the same stream rules as
// kmod's depmod, including that a record without '=' also swallows the
// record after it.
func BuildBuiltinAlias(r io.Reader, file string) (*Builder, []error, error) {
	// Bounded by the callers: depmod's readText and Set.build read the
	// file with a 64 MiB bound (MaxTextSize) before handing it over.
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, err
	}
	b := &Builder{}
	var bad []error
	s := stream{data: data}
	for rec := 1; !s.eof(); rec++ {
		mod, ok := s.upTo('.')
		if !ok || mod == "" {
			continue
		}
		key, ok := s.upTo('=')
		if !ok || key != "alias" {
			s.skipPast(0)
			continue
		}
		val, ok := s.upTo(0)
		if !ok || val == "" {
			continue
		}
		alias, err := modname.Alias(val)
		if err != nil {
			bad = append(bad, &ParseError{File: file, Line: rec, Msg: fmt.Sprintf("record %d: unmatched bracket in %s", rec, val), Value: val})
			continue
		}
		if err := b.Add(alias, mod, 0); err != nil {
			bad = append(bad, &ParseError{File: file, Line: rec, Msg: fmt.Sprintf("record %d: %v", rec, err)})
		}
	}
	return b, bad, nil
}

// stream reads a byte slice the way depmod's flush_stream_to reads a FILE.
type stream struct {
	data []byte
	pos  int
}

func (s *stream) eof() bool { return s.pos >= len(s.data) }

// upTo consumes bytes up to and including the first end or NUL byte and
// returns the bytes before it; ok is false when that byte was not end.
func (s *stream) upTo(end byte) (string, bool) {
	rest := s.data[s.pos:]
	i := 0
	for i < len(rest) && rest[i] != end && rest[i] != 0 {
		i++
	}
	if i == len(rest) {
		s.pos = len(s.data)
		return "", false
	}
	s.pos += i + 1
	return string(rest[:i]), rest[i] == end
}

// skipPast consumes bytes up to and including the next end or NUL byte.
func (s *stream) skipPast(end byte) { s.upTo(end) }
