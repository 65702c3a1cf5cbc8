package kata

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gokmod/modprobe"
)

// ParseElement reads one element of a kernel module list, "NAME
// [PARAM...]", into a request. Whitespace separates words; a double quote
// starts or ends a group in which whitespace belongs to the word, and the
// quotes stay in it (p="a b" is one parameter, given to the kernel as
// written). Bytes are kept as they are, valid UTF-8 or not. An element
// that is empty or all whitespace gives ok false and no error.
func ParseElement(elem string) (req modprobe.Request, ok bool, err error) {
	words, err := splitWords(elem)
	if err != nil || len(words) == 0 {
		return modprobe.Request{}, false, err
	}
	req = modprobe.Request{Name: words[0]}
	if len(words) > 1 {
		req.Params = words[1:]
	}
	if err := check(req); err != nil {
		return modprobe.Request{}, false, err
	}
	return req, true, nil
}

// splitWords is ParseElement's tokenizer.
func splitWords(s string) ([]string, error) {
	var words []string
	start := -1 // start of the current word, or -1 between words
	quoted := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			quoted = !quoted
			if start < 0 {
				start = i
			}
		case !quoted && isSpace(r, size):
			if start >= 0 {
				words = append(words, s[start:i])
				start = -1
			}
		default:
			if start < 0 {
				start = i
			}
		}
		i += size
	}
	if quoted {
		return nil, ErrUnbalancedQuote
	}
	if start >= 0 {
		words = append(words, s[start:])
	}
	return words, nil
}

// isSpace reports whether the rune r, decoded from size bytes, is
// whitespace; an invalid byte never is.
func isSpace(r rune, size int) bool {
	return !(r == utf8.RuneError && size == 1) && unicode.IsSpace(r)
}

// check refuses names and parameters that could only be an attack on a
// modprobe command line or a mistake.
func check(req modprobe.Request) error {
	switch {
	case strings.HasPrefix(req.Name, "-"):
		return fmt.Errorf("%w: module name %q starts with '-'", modprobe.ErrBadName, req.Name)
	case strings.Contains(req.Name, "/"):
		return fmt.Errorf("%w: module name %q holds '/'", modprobe.ErrBadName, req.Name)
	case strings.Contains(req.Name, `"`):
		return fmt.Errorf("%w: module name %q holds a quote", modprobe.ErrBadName, req.Name)
	case strings.ContainsRune(req.Name, 0):
		return fmt.Errorf("%w: module name %q holds a NUL byte", modprobe.ErrBadName, req.Name)
	}
	for _, p := range req.Params {
		switch {
		case strings.HasPrefix(p, "-"):
			return fmt.Errorf("%w: parameter %q starts with '-'", modprobe.ErrBadParams, p)
		case strings.ContainsAny(p, "\n\x00"):
			return fmt.Errorf("%w: parameter %q holds a newline or NUL byte", modprobe.ErrBadParams, p)
		}
	}
	return nil
}

// parseList reads the elements of a list in order; source names the list
// in errors.
func parseList(source string, elems []string) ([]modprobe.Request, error) {
	var reqs []modprobe.Request
	for i, e := range elems {
		req, ok, err := ParseElement(e)
		if err != nil {
			return nil, &ParseError{Source: source, Index: i, Element: e, Err: err}
		}
		if ok {
			reqs = append(reqs, req)
		}
	}
	return reqs, nil
}
