// Package ere matches POSIX extended regular expressions as glibc's
// regcomp(REG_EXTENDED|REG_NOSUB) and regexec do in the C locale: the
// match is searched anywhere in the subject, and only whether there is
// one is reported. depmod.d's override and external lines name their
// kernel releases so (kmod's cfg_kernel_matches).
//
// It stands in for the standard library's regexp, whose package inits
// (the syntax package's tables and the unicode package's maps it
// reaches) every gokmod process paid for at start-up, while a depmod.d
// pattern is met only by depmod. The grammar is glibc's for ERE:
// alternation, groups, the * + ? and {m,n} repetitions, anchors,
// bracket expressions with ranges and [:class:] names, and GNU's
// backslash operators (\w \W \s \S, \b \B \< \> \` \'); a backslash
// before another character makes it literal. Back-references (\1 to
// \9), which glibc has, are refused, as they were when Go's regexp
// matched these patterns.
package ere

import "errors"

// ErrSyntax: the pattern is not an extended regular expression (or uses
// what this package refuses: a back-reference, a program too large).
var ErrSyntax = errors.New("bad extended regular expression")

// Regexp is a compiled pattern.
type Regexp struct {
	prog []inst
}

// Compile compiles pattern; the error wraps ErrSyntax.
func Compile(pattern string) (*Regexp, error) {
	p := &parser{src: pattern}
	n, err := p.parse()
	if err != nil {
		return nil, err
	}
	c := &compiler{src: pattern}
	if err := c.compile(n); err != nil {
		return nil, err
	}
	c.emit(inst{op: opMatch})
	return &Regexp{prog: c.prog}, nil
}

// MatchString reports whether the pattern matches anywhere in s.
func (re *Regexp) MatchString(s string) bool {
	return re.run(s)
}
