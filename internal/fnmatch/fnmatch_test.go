package fnmatch

import (
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/fnmatch/internal/cfnmatch"
)

type matchTest struct {
	pattern, name string
	want          bool
}

// matchTests pins down glibc 2.36's fnmatch(pattern, name, 0) in the C
// locale. Every row was checked against glibc (TestTableAgainstGlibc keeps
// checking it). Comments name the rule.
var matchTests = []matchTest{
	// Literals and the empty pattern.
	{"", "", true},
	{"", "a", false},
	{"a", "", false},
	{"abc", "abc", true},
	{"abc", "abd", false},
	{"abc", "ab", false},
	{"ab", "abc", false},
	{"ABC", "abc", false}, // case-sensitive

	// Bytes >= 0x80 are single characters.
	{"\x80", "\x80", true},
	{"\xe9t\xe9", "\xe9t\xe9", true},
	{"?", "\xff", true},
	{"??", "\xc3\xa9", true}, // UTF-8 "é" is two bytes
	{"?", "\xc3\xa9", false},
	{"*\x80", "a\x80", true},

	// '?' matches any single byte, including '/' and a leading '.'.
	{"?", "a", true},
	{"?", "", false},
	{"?", "ab", false},
	{"a?c", "a/c", true},
	{"?abc", ".abc", true},
	{"???", "ab", false},

	// '*' matches any sequence, including '/' and a leading '.'.
	{"*", "", true},
	{"*", "anything/at/all", true},
	{"*", ".hidden", true},
	{"a*", "a", true},
	{"a*b", "ab", true},
	{"a*b", "a/x/b", true},
	{"a*b", "a/x/c", false},
	{"*b", "abb", true},
	{"**", "", true},
	{"a**b", "axyb", true},
	{"*?", "", false},
	{"*?", "a", true},
	{"?*?", "a", false},
	{"?*?", "ab", true},
	{"*?*?*", "ab", true},
	{"a*a*a*a*a*b", strings.Repeat("a", 100), false},
	{"a*a*a*a*a*b", strings.Repeat("a", 100) + "b", true},
	{"*a*b*c*", "xaxbxcx", true},
	{"*a*b*c*", "xcxbxax", false},
	{"*ab", "aab", true},
	{"*aab", "aaab", true},

	// Backslash escapes outside brackets (escaping is on with flags 0).
	{`\*`, "*", true},
	{`\*`, "a", false},
	{`\?`, "?", true},
	{`\?`, "a", false},
	{`\[`, "[", true},
	{`\\`, `\`, true},
	{`\a`, "a", true},
	{`a\b`, "ab", true},
	{`a\b`, `a\b`, false},
	{`*\*`, "abc*", true},
	{`*\*`, "abc", false},
	// A trailing backslash makes the pattern match nothing.
	{`\`, `\`, false},
	{`\`, "", false},
	{`a\`, `a\`, false},
	{`a\`, "a", false},
	{`*\`, `x\`, false},
	{`*\`, "", false},

	// Bracket expressions.
	{"[abc]", "b", true},
	{"[abc]", "d", false},
	{"[abc]", "", false},
	{"[abc]", "ab", false},
	{"x[abc]y", "xby", true},
	{"[/]", "/", true}, // '/' is ordinary with flags 0
	{"a[/]b", "a/b", true},
	{"[.]", ".", true}, // so is a leading '.'
	{"[\x80-\xff]", "\x90", true},
	{"[\xff-\x80]", "\x90", false},
	// Negation with '!' or '^'.
	{"[!abc]", "d", true},
	{"[!abc]", "a", false},
	{"[^abc]", "d", true},
	{"[^abc]", "^", true},
	{"[^abc]", "a", false},
	{"[!abc]", "", false},
	{"[a!]", "!", true}, // '!' later is ordinary
	{"[a^]", "^", true},
	{"[!!]", "!", false},
	{"[!!]", "a", true},
	// ']' first is an ordinary member.
	{"[]]", "]", true},
	{"[]a]", "]", true},
	{"[]a]", "a", true},
	{"[]a]", "b", false},
	{"[!]]", "]", false},
	{"[!]]", "a", true},
	{"[^]]", "a", true},
	{"[]-a]", "^", true}, // range from ']' to 'a'
	{"[]-a]", "b", false},
	// "[]" and "[!]" are unterminated, so '[' is literal.
	{"[]", "[]", true},
	{"[]", "]", false},
	{"[]", "[", false},
	{"[!]", "[!]", true},
	{"[!]", "]", false},
	{"[!]", "a", false},
	{"[]]]", "]]", true},
	// Ranges in byte order.
	{"[a-c]", "a", true},
	{"[a-c]", "b", true},
	{"[a-c]", "c", true},
	{"[a-c]", "d", false},
	{"[a-c]", "B", false},
	{"[A-z]", "_", true}, // byte order, not alphabetical
	{"[0-9]", "5", true},
	{"[!0-9]", "5", false},
	{"[a-a]", "a", true},
	{"[z-a]", "m", false}, // reversed: matches nothing
	{"[z-a]", "z", false},
	{"[z-a]", "a", false},
	{"[!z-a]", "m", true},
	{"[z-ab]", "b", true},
	{"[a-cx-z]", "y", true},
	{"[a-c-e]", "-", true}, // '-' after a range is ordinary
	{"[a-c-e]", "d", false},
	{"[a-c-e]", "e", true},
	{"[%--]", "+", true},
	{"[!--0]", "/", false},
	// '-' first or last is ordinary.
	{"[-a]", "-", true},
	{"[a-]", "-", true},
	{"[a-]", "a", true},
	{"[a-]", "b", false},
	{"[!-]", "-", false},
	{"[!-]", "a", true},
	{"[-]", "-", true},
	{"[--]", "-", true},
	{"[---]", "-", true},
	{"[a--]", "-", false}, // range 'a'..'-' is reversed
	// Escapes inside brackets.
	{`[\]]`, "]", true},
	{`[\]]`, `\`, false},
	{`[\\]`, `\`, true},
	{`[\a]`, "a", true},
	{`[\a]`, `\`, false},
	{`[\!a]`, "!", true}, // not a negation
	{`[a\-z]`, "-", true},
	{`[a\-z]`, "b", false},
	{`[\a-c]`, "b", true},
	{`[a-\c]`, "b", true},
	{`[a-\]]`, "]", false}, // range 'a'..']' is reversed
	{`[\]-a]`, "^", true},
	{`[\]`, "[]", true}, // unterminated: '[' literal, then `\]`
	{`[\`, `[\`, false}, // backslash at the end inside a bracket
	{`[a\`, "a", false}, // same, found while skipping
	{`[a\`, `[a\`, false},
	{`[!\`, "b", false},
	// Unterminated '[' is an ordinary character.
	{"[", "[", true},
	{"[", "", false},
	{"[ab", "[ab", true},
	{"[ab", "a", false},
	{"[[", "[[", true},
	{"[[", "[", false},
	{"a[", "a[", true},
	{"[*", "[abc", true}, // the rest is reparsed: '*' is a wildcard
	{"[*", "abc", false},
	{"[?", "[x", true},
	{"[!", "[!", true},
	{"[^", "[^", true},
	{"x[a", "x[a", true},
	{"[[:alpha:]", "[a", true}, // "[:alpha:]" is then a bracket of ":alph"
	{"[[:alpha:]", "[[:alpha:]", false},
	// ... but some ill-formed tails fail instead of falling back.
	{"[a-", "[a-", false}, // range with a missing end
	{"[a-", "a", false},
	{"[a-", "-", false},
	{"[!a-", "[!a-", false},

	// Character classes (C locale, ASCII only).
	{"[[:alpha:]]", "a", true},
	{"[[:alpha:]]", "Z", true},
	{"[[:alpha:]]", "1", false},
	{"[[:alpha:]]", "\xe9", false},
	{"[[:digit:]]", "7", true},
	{"[[:digit:]]", "a", false},
	{"[[:alnum:]]", "7", true},
	{"[[:alnum:]]", "q", true},
	{"[[:alnum:]]", "_", false},
	{"[[:upper:]]", "Q", true},
	{"[[:upper:]]", "q", false},
	{"[[:lower:]]", "q", true},
	{"[[:lower:]]", "Q", false},
	{"[[:space:]]", " ", true},
	{"[[:space:]]", "\t", true},
	{"[[:space:]]", "\n", true},
	{"[[:space:]]", "\v", true},
	{"[[:space:]]", "\f", true},
	{"[[:space:]]", "\r", true},
	{"[[:space:]]", "\xa0", false},
	{"[[:space:]]", "x", false},
	{"[[:xdigit:]]", "F", true},
	{"[[:xdigit:]]", "f", true},
	{"[[:xdigit:]]", "9", true},
	{"[[:xdigit:]]", "g", false},
	{"[[:punct:]]", "!", true},
	{"[[:punct:]]", "~", true},
	{"[[:punct:]]", "_", true},
	{"[[:punct:]]", "a", false},
	{"[[:punct:]]", " ", false},
	{"[[:print:]]", " ", true},
	{"[[:print:]]", "~", true},
	{"[[:print:]]", "\x7f", false},
	{"[[:print:]]", "\x80", false},
	{"[[:graph:]]", " ", false},
	{"[[:graph:]]", "!", true},
	{"[[:cntrl:]]", "\x01", true},
	{"[[:cntrl:]]", "\x1f", true},
	{"[[:cntrl:]]", "\x7f", true},
	{"[[:cntrl:]]", " ", false},
	{"[[:blank:]]", " ", true},
	{"[[:blank:]]", "\t", true},
	{"[[:blank:]]", "\n", false},
	{"[![:digit:]]", "a", true},
	{"[![:digit:]]", "1", false},
	{"[^[:digit:]]", "1", false},
	{"[[:digit:][:upper:]]", "Q", true},
	{"[[:digit:]a-c]", "b", true},
	{"[x[:digit:]]", "x", true},
	{"[[:digit:]-z]", "-", true}, // a class cannot start a range
	{"[[:digit:]-z]", "y", false},
	{"[a-[:alpha:]]", "l]", true}, // range 'a'..'[' then ":alpha:" members
	{"[a-[:alpha:]]", "b]", false},
	{"[[:ALPHA:]]", "a", false},
	// An unknown class name fails the match where it is reached ...
	{"[[:foo:]]", "f", false},
	{"[[:foo:]]", "[", false},
	{"[![:foo:]]", "a", false},
	{"[[:foo:]a]", "a", false},
	{"[[::]]", ":", false},
	{"*[[:foo:]]", "abc", false},
	// ... but not when an earlier member already matched.
	{"[a[:foo:]]", "a", true},
	{"[a[:foo:]]", "b", false},
	// Text after "[:" that cannot be a name ('a'..'y' only) is not a class.
	{"[[:z:]]", "z]", true},
	{"[[:z:]]", "[]", true},
	{"[[:z:]]", "z", false},
	{"[[:Alpha:]]", "A]", true},
	{"[[:al]", "[", true},
	{"[[:al]", "l", true},
	{"[[:al]", ":", true},

	// Equivalence classes: in the C locale "[=c=]" is just c.
	{"[[=a=]]", "a", true},
	{"[[=a=]]", "b", false},
	{"[[=a=]]", "A", false},
	{"[[=]=]]", "]", true},
	{"[[===]]", "=", true},
	{"[[=a=]b]", "b", true},
	{"[![=a=]]", "a", false},
	{"[[=ab=]]", "a", false}, // ill-formed: '[' and "=ab=" members, then "]"
	{"[[=ab=]]", "b]", true},
	{"[[=ab=]]", "[]", true},
	{"[[=a]", "=", true},
	{"[[=", "[[=", true},
	// An ill-formed "[=" after the matching member fails the match.
	{"[a[=b]", "a", false},
	{"[a[=b]", "[", true},
	{"[a[=b]", "=", true},
	{"[a[=b]", "b", true},

	// Collating symbols: in the C locale only "[.c.]" for one byte c.
	{"[[.a.]]", "a", true},
	{"[[.a.]]", "b", false},
	{"[[.-.]]", "-", true},
	{"[[.-.]a]", "a", true},
	{"[[...]]", ".", true},
	{"[[.].]]", "]", true},
	{"[[.a.]-c]", "b", true},
	{"[a-[.c.]]", "b", true},
	{"[a-[.c.]x]", "x", true},
	{"[[.a.]-[.c.]]", "c", true},
	{"[[.-.]-0]", "/", true},
	{"[![.a.]]", "a", false},
	{"[![.a.]]", "b", true},
	{"[[.ab.]]", "a", false}, // multi-byte names do not exist
	{"[[..]]", ".", false},   // empty name
	{"[[.a]", "[", false},    // unterminated symbol
	{"[x[.a]", "x", false},   // also while skipping
	{"[[.space.]]", " ", false},
	// A collating symbol before "-]" is not a member, '-' is.
	{"[[.a.]-]", "a", false},
	{"[[.a.]-]", "-", true},
	{"[a-]", "a", true}, // unlike an ordinary byte

	// Module aliases as found in modules.alias.
	{"pci:v00008086d00001234sv*sd*bc*sc*i*", "pci:v00008086d00001234sv00001028sd000004DAbc02sc00i00", true},
	{"pci:v00008086d00001234sv*sd*bc*sc*i*", "pci:v00008086d00001235sv00001028sd000004DAbc02sc00i00", false},
	{"usb:v0B95p1790d*dc*dsc*dp*ic*isc*ip*in*", "usb:v0B95p1790d0100dcFFdscFFdp00icFFiscFFip00in00", true},
	{"usb:v0B95p1790d*dc*dsc*dp*ic*isc*ip*in*", "usb:v0B95p1791d0100dcFFdscFFdp00icFFiscFFip00in00", false},
	{"dmi*:svnLENOVO*:pvrThinkPad*:*", "dmi:bvnLENOVO:bvrN1EET62W:bd12/09/2019:svnLENOVO:pn20ET0030GE:pvrThinkPadT460s:rvnLENOVO:", true},
	{"dmi*:svnLENOVO*:pvrThinkPad*:*", "dmi:bvnDell:svnDell:pvrXPS:", false},
	{"acpi*:PNP0C09:*", "acpi:PNP0C09:", true},
	{"acpi*:PNP0C09:*", "acpi:PNP0C0A:", false},
	{"of:N*T*Cfsl,imx6q-uart*", "of:NserialT(null)Cfsl,imx6q-uartCfsl,imx21-uart", true},
	{"of:N*T*Cfsl,imx6q-uart*", "of:NserialT(null)Cfsl,imx21-uart", false},
	{"cpu:type:x86,ven*fam*mod*:feature:*0081*", "cpu:type:x86,ven0000fam0006mod008E:feature:,0000,0001,0081,00E5", true},
	{"cpu:type:x86,ven*fam*mod*:feature:*0081*", "cpu:type:x86,ven0000fam0006mod008E:feature:,0000,0001,0082", false},
	{"input:b0003v*p*e*-e*1,*k*", "input:b0003v046Dp4024e0111-e0,1,4,11,14,k71,72,73,ram4,lsfw", true},

	// '*' commits to the leftmost place where the text up to the next '*'
	// matches. With ill-formed brackets the text's extent can depend on the
	// matched byte, and then that commitment is observable: at "a" the
	// bracket ends at the first ']' and reaches the second '*', while only
	// "x" (which ends it at the second ']') would let "y" follow.
	{"[xa-[:alpha:]]", "x", true}, // skipping sees "[:alpha:]" as a class
	{"[xa-[:alpha:]]", "x]", false},
	{"[xa-[:alpha:]]", "l]", true}, // comparing ends at the first ']'
	{"[xa-[:alpha:]]", "l", false},
	{"*[xa-[:alpha:]*]y", "axy", false},
	{"*[xa-[:alpha:]*]y", "xy", true},
	{"*[xa-[:alpha:]*]y", "a]y", true},

	// NUL: both strings end at their first NUL byte, as in C.
	{"a\x00b", "a", true},
	{"a\x00b", "a\x00c", true},
	{"a*", "ab\x00c", true},
	{"\x00", "", true},
	{"[\x00]", "[", true}, // the bracket is unterminated at the NUL
}

// TestMatch checks Match against the glibc-verified table.
func TestMatch(t *testing.T) {
	for _, tc := range matchTests {
		if got := Match(tc.pattern, tc.name); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

// TestTableAgainstGlibc checks that the expectations in matchTests are
// glibc's, so that the table cannot drift from the reference.
func TestTableAgainstGlibc(t *testing.T) {
	requireReference(t)
	for _, tc := range matchTests {
		if got := cfnmatch.Match(tc.pattern, tc.name); got != tc.want {
			t.Errorf("glibc fnmatch(%q, %q) = %v, table says %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

// TestClassNameLimit covers glibc's 2048-byte limit on class names: a name
// that long makes the pattern fail instead of falling back to '['.
func TestClassNameLimit(t *testing.T) {
	for _, tc := range []matchTest{
		{"[[:" + strings.Repeat("a", 2047) + "]", "[", true},
		{"[[:" + strings.Repeat("a", 2048) + "]", "[", false},
		// While skipping after a match, the limit is one byte shorter.
		{"[x[:" + strings.Repeat("a", 2046) + "]", "x", true},
		{"[x[:" + strings.Repeat("a", 2047) + "]", "x", false},
		{"[x[:" + strings.Repeat("a", 2046) + ":]]", "x", true},
		{"[x[:" + strings.Repeat("a", 2047) + ":]]", "x", false},
	} {
		if got := Match(tc.pattern, tc.name); got != tc.want {
			t.Errorf("Match(%.12q... (len %d), %q) = %v, want %v", tc.pattern, len(tc.pattern), tc.name, got, tc.want)
		}
		if cfnmatch.Available() {
			if got := cfnmatch.Match(tc.pattern, tc.name); got != tc.want {
				t.Errorf("glibc disagrees with the table for pattern of length %d", len(tc.pattern))
			}
		}
	}
}

// TestHasMeta checks the metacharacter test.
func TestHasMeta(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		want    bool
	}{
		{"", false},
		{"abc", false},
		{"pci:v00008086d00001234", false},
		{`a\b`, false}, // a backslash alone is not reported, see the doc
		{"]", false},
		{"!", false},
		{"a*", true},
		{"a?", true},
		{"a[b", true},
		{"dmi*:svnLENOVO*", true},
	} {
		if got := HasMeta(tc.pattern); got != tc.want {
			t.Errorf("HasMeta(%q) = %v, want %v", tc.pattern, got, tc.want)
		}
	}
}

// TestNoAllocs checks that Match never allocates.
func TestNoAllocs(t *testing.T) {
	for _, tc := range matchTests {
		if n := testing.AllocsPerRun(10, func() { Match(tc.pattern, tc.name) }); n != 0 {
			t.Errorf("Match(%q, %q) allocates %v times", tc.pattern, tc.name, n)
		}
	}
}

// TestLinearStars checks that pathological star patterns stay fast: with
// exponential backtracking this would not finish.
func TestLinearStars(t *testing.T) {
	name := strings.Repeat("a", 10000)
	pattern := strings.Repeat("a*", 50) + "b"
	if Match(pattern, name) {
		t.Fatal("unexpected match")
	}
	if !Match(pattern, name+"b") {
		t.Fatal("expected match")
	}
	if Match(strings.Repeat("*?", 50)+"[b]", name) {
		t.Fatal("unexpected match")
	}
}
