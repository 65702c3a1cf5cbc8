package ere

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// releases are kernel releases, what depmod.d's patterns are matched
// against.
// (None has a newline, before which Go's POSIX '$' matches and glibc's,
// without REG_NEWLINE, does not.)
var releases = []string{"6.1.0-57-amd64", "6.12.118+deb13-amd64", "5.10.0-dm", "", "a_b c", "4.19.0-rt"}

// TestAgreesWithGoRegexp: on patterns both grammars read alike, the match
// is Go's POSIX regexp's (leftmost-longest does not matter: only whether
// there is a match does).
func TestAgreesWithGoRegexp(t *testing.T) {
	patterns := []string{
		"", "6", "^6", "^6\\.1", "amd64$", "^5", "6.1.0-dm-extra", "6\\.1\\.0-57-amd64",
		"^6\\.(1|12)\\.", "deb1[0-9]", "[^0-9.-]", "[[:alpha:]]+$", "[[:digit:]]{3}", "^[0-9]+\\.[0-9]+\\.[0-9]+-[0-9]+-amd64$",
		"(a|b|)c", "x*", "(6|5)\\.1+", "a{2,}", "a{0,1}b", "[]a]", "[a-]", "[-a]", "[--/]", "^$", "d(m|x)$",
		"((a*)*)*b", "(^|-)dm", "amd64|rt", "[[:space:]]", "[[:upper:]]", "\\+deb", "1{1}8", "1{2}",
	}
	for _, p := range patterns {
		re, err := Compile(p)
		require.NoError(t, err, p)
		gore := regexp.MustCompilePOSIX(p)
		for _, s := range releases {
			assert.Equal(t, gore.MatchString(s), re.MatchString(s), "pattern %q on %q", p, s)
		}
	}
}

// TestGlibcGrammar: what glibc's regcomp reads differently from Go's
// regexp, or refuses.
func TestGlibcGrammar(t *testing.T) {
	for _, c := range []struct {
		pattern, subject string
		want             bool
	}{
		{"a)", "xa)", true},             // an unmatched ')' is ordinary
		{"\\<deb", "6.12+deb13", true},  // GNU word start
		{"\\<eb", "6.12+deb13", false},  // not at a word's start
		{"amd64\\>", "6.1-amd64", true}, // GNU word end
		{"\\bdm\\b", "5.10.0-dm", true}, // GNU word boundary
		{"\\Bm\\B", "5.10.0-dm", false}, // m ends the subject
		{"\\w+-\\w+$", "0-dm", true},    // GNU \w
		{"\\W", "abc_9", false},         // \W
		{"\\s", "a b", true},            // GNU \s
		{"\\S", "   ", false},           // \S
		{"[\\]", "a\\b", true},          // a backslash is ordinary in brackets
		{"[[.-.]a]", "x-", true},        // a collating symbol
		{"[[=a=]]", "cat", true},        // an equivalence class
		{"\\`6", "6.1", true},           // buffer start
		{"1\\'", "6.1", true},           // buffer end
		{"a{,2}", "a", false},           // an interval without its minimum is refused
		{"\\.", "61", false},            // an escaped dot is a dot
		{"a**", "b", true},              // repeated repetition
		{"[a\\-z]", "-", false},         // "\\-z" is a range from '\\' to 'z'
	} {
		re, err := Compile(c.pattern)
		if c.pattern == "a{,2}" {
			require.ErrorIs(t, err, ErrSyntax)
			continue
		}
		require.NoError(t, err, c.pattern)
		assert.Equal(t, c.want, re.MatchString(c.subject), "pattern %q on %q", c.pattern, c.subject)
	}
}

// TestRefused: patterns regcomp rejects (or this package refuses) are
// errors naming the pattern.
func TestRefused(t *testing.T) {
	for _, p := range []string{"(", "(a|b", "*a", "+", "a|*", "(*a)", "?", "{1}", "a{2,1}", "a{1", "a{x}", "a{99999}",
		"[a", "[]", "[^]", "[z-a]", "[[:nope:]]", "[[:alpha:]-z]", "[[.ab.]]", "[[:alpha:", "\\", "a\\", "(a)\\1", "^*", "x$+",
		"(a{100}){100}{100}"} {
		_, err := Compile(p)
		require.ErrorIs(t, err, ErrSyntax, "pattern %q", p)
		assert.Contains(t, err.Error(), strconv.Quote(p), "the error names the pattern")
	}
}

// FuzzCompile: any pattern compiles or is refused with ErrSyntax, and a
// compiled one matches any subject without panicking; where Go's POSIX
// regexp reads a pattern of plain characters, '.', '*', '+', '?', '|',
// parentheses and anchors, both agree on subjects a C string can be
// (no NUL, which '.' does not match) without a newline.
func FuzzCompile(f *testing.F) {
	for _, p := range []string{"^6\\.1", "(a|b)*c$", "[[:alpha:]-]+", "a{2,3}", "\\<x\\>", "((a*)*)*b"} {
		f.Add(p, "6.1.0-57-amd64")
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		re, err := Compile(p)
		if err != nil {
			require.ErrorIs(t, err, ErrSyntax)
			return
		}
		got := re.MatchString(s)
		for i := 0; i < len(p); i++ {
			switch c := p[i]; {
			case c == '\\' || c == '[' || c == '{' || c == ']' || c == '}' || c == ')' || c >= 0x80 || c == 0:
				return
			}
		}
		gore, err := regexp.CompilePOSIX(p)
		if err != nil || strings.ContainsAny(s, "\n\x00") {
			return
		}
		require.Equal(t, gore.MatchString(s), got, "pattern %q on %q", p, s)
	})
}
