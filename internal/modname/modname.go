// Package modname holds kmod's rules for spelling module names and aliases.
//
// kmod normalizes names in three different ways, and which one applies
// depends on where a string comes from:
//
//   - Normalize: a module name taken from a file name, /proc/modules or a
//     holders directory: every '-' becomes '_' and the name ends at the first
//     '.' (so "foo-bar.ko.xz" is "foo_bar").
//   - Alias: the input of a lookup and the keys of the alias indexes: '-'
//     becomes '_' except inside a bracket expression, and nothing is cut.
//   - Underscores: module and alias fields of modprobe.d lines and module names
//     on the kernel command line: like Alias, with the same bracket errors.
package modname

import (
	"errors"
	"path"
	"strings"
)

// MaxLen is the longest alias kmod looks up (PATH_MAX-1 bytes); kmod silently
// cuts longer strings to this length before normalizing them.
const MaxLen = 4095

// ErrBracket reports a ']' without a '[' or a '[' without a closing ']'.
var ErrBracket = errors.New("unmatched bracket")

// Normalize returns the module name for name: '-' becomes '_' and the name
// stops at the first '.' or NUL byte.
func Normalize(name string) string {
	// Two IndexByte, not strings.IndexAny, which builds its set at every
	// call: this runs for every module of every dependency line.
	if i := strings.IndexByte(name, '.'); i >= 0 {
		name = name[:i]
	}
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	if len(name) > MaxLen {
		name = name[:MaxLen]
	}
	if strings.IndexByte(name, '-') < 0 {
		return name
	}
	return strings.ReplaceAll(name, "-", "_")
}

// FromPath returns the module name of a module file: the base name of p,
// normalized. It returns "" when p has no base name.
func FromPath(p string) string {
	if p == "" || strings.HasSuffix(p, "/") {
		return ""
	}
	return Normalize(path.Base(p))
}

// Alias normalizes a lookup string the way kmod's alias_normalize does:
// '-' becomes '_' outside bracket expressions, which are copied verbatim.
// Input longer than MaxLen bytes is cut to MaxLen first, and a NUL byte ends
// the string, as it does for kmod.
func Alias(s string) (string, error) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	if len(s) > MaxLen {
		s = s[:MaxLen]
	}
	a, err := underscores(s)
	if err != nil {
		return "", err
	}
	return a, nil
}

// Underscores normalizes a module or alias field of a modprobe.d line the
// way kmod's underscores() does: '-' becomes '_' outside bracket
// expressions. On an unmatched bracket it returns ErrBracket with the
// string converted up to the bracket, as kmod leaves it in place (and
// prints it in some messages).
func Underscores(s string) (string, error) {
	return underscores(s)
}

func underscores(s string) (string, error) {
	if !strings.ContainsAny(s, "-[]") {
		return s, nil
	}
	b := []byte(s)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '-':
			b[i] = '_'
		case ']':
			return string(b), ErrBracket
		case '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return string(b), ErrBracket
			}
			i += j
		}
	}
	return string(b), nil
}

// IsUnderscored reports whether s is in the form Underscores gives: no '-'
// outside a bracket expression.
func IsUnderscored(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '-':
			return false
		case '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return true
			}
			i += j
		}
	}
	return true
}
