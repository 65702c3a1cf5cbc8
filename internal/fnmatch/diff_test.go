package fnmatch

import (
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/fnmatch/internal/cfnmatch"
)

// requireReference skips the calling test when glibc's fnmatch cannot be
// called, except under CI (CI=true), where a missing reference is a failure:
// the differential tests are the proof that Match is glibc-exact.
func requireReference(tb testing.TB) {
	tb.Helper()
	if cfnmatch.Available() {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("glibc reference unavailable under CI: %s", cfnmatch.Reason())
	}
	tb.Skipf("glibc reference unavailable: %s", cfnmatch.Reason())
}

// differ compares Match with glibc for one pair and reports a mismatch.
// It returns false on a mismatch.
func differ(tb testing.TB, pattern, name string) bool {
	tb.Helper()
	got := Match(pattern, name)
	want := cfnmatch.Match(pattern, name)
	if got != want {
		tb.Errorf("Match(%q, %q) = %v, glibc fnmatch says %v", pattern, name, got, want)
		return false
	}
	return true
}

// diffAlphabet is the byte alphabet that stresses fnmatch's rules.
const diffAlphabet = `ab-][!^*?\/.:09z`

// patternTokens are the pieces random patterns are assembled from: every
// single byte of diffAlphabet plus the multi-byte constructs of bracket
// expressions, well- and ill-formed.
var patternTokens = []string{
	"a", "b", "-", "]", "[", "!", "^", "*", "?", `\`, "/", ".", ":", "0", "9", "z",
	"A", "\xe9", "\x80", "\xff", " ",
	"[:alpha:]", "[:digit:]", "[:alnum:]", "[:upper:]", "[:lower:]", "[:space:]",
	"[:xdigit:]", "[:punct:]", "[:print:]", "[:graph:]", "[:cntrl:]", "[:blank:]",
	"[:foo:]", "[:z:]", "[::]", "[:", ":]", "[=", "=]", "[=a=]", "[=]=]", "[==]",
	"[.", ".]", "[.a.]", "[.-.]", "[.].]", "[..]", "[.ab.]", "[...]",
	"[a-z]", "[!a]", "[^a]", "[]]", "[!]]", "[]-a]", "[z-a]", "a-", "-]",
}

// nameBytes are the bytes random names are built from.
const nameBytes = "ab-][!^*?\\/.:09zAZ \t\xe9\x80\xff=_"

func randomPattern(r *rand.Rand) string {
	var b strings.Builder
	n := r.IntN(8)
	for range n {
		if r.IntN(3) == 0 {
			b.WriteString(patternTokens[r.IntN(len(patternTokens))])
		} else {
			b.WriteByte(diffAlphabet[r.IntN(len(diffAlphabet))])
		}
	}
	return b.String()
}

func randomName(r *rand.Rand, pattern string) string {
	switch r.IntN(4) {
	case 0:
		// The pattern itself, or part of it: brackets that fall back to
		// literals, escapes and collating symbols need such names.
		if len(pattern) == 0 {
			return ""
		}
		i := r.IntN(len(pattern) + 1)
		j := i + r.IntN(len(pattern)-i+1)
		return pattern[i:j]
	case 1:
		// The pattern with its metacharacters dropped or replaced.
		var b strings.Builder
		for k := 0; k < len(pattern); k++ {
			c := pattern[k]
			switch {
			case c == '*' || c == '?' || c == '\\':
				if r.IntN(2) == 0 {
					b.WriteByte(nameBytes[r.IntN(len(nameBytes))])
				}
			case r.IntN(4) == 0:
				b.WriteByte(nameBytes[r.IntN(len(nameBytes))])
			default:
				b.WriteByte(c)
			}
		}
		return b.String()
	default:
		var b strings.Builder
		for range r.IntN(6) {
			b.WriteByte(nameBytes[r.IntN(len(nameBytes))])
		}
		return b.String()
	}
}

// TestDifferentialExhaustive compares every pattern of up to three bytes over
// diffAlphabet with every one-byte name and every name of up to two bytes
// over diffAlphabet.
func TestDifferentialExhaustive(t *testing.T) {
	requireReference(t)
	var names []string
	names = append(names, "")
	for c := 1; c < 256; c++ {
		names = append(names, string([]byte{byte(c)}))
	}
	for i := 0; i < len(diffAlphabet); i++ {
		for j := 0; j < len(diffAlphabet); j++ {
			names = append(names, string([]byte{diffAlphabet[i], diffAlphabet[j]}))
		}
	}
	patterns := []string{""}
	prev := []string{""}
	maxLen := 3
	if testing.Short() {
		maxLen = 2
	}
	for l := 1; l <= maxLen; l++ {
		var next []string
		for _, p := range prev {
			for i := 0; i < len(diffAlphabet); i++ {
				next = append(next, p+string(diffAlphabet[i]))
			}
		}
		patterns = append(patterns, next...)
		prev = next
	}
	fails := 0
	for _, p := range patterns {
		for _, n := range names {
			if !differ(t, p, n) {
				fails++
				if fails > 50 {
					t.Fatal("too many mismatches")
				}
			}
		}
	}
	t.Logf("glibc %s: %d patterns x %d names", cfnmatch.Version(), len(patterns), len(names))
}

// TestDifferentialRandom compares a large deterministic pseudo-random set of
// (pattern, name) pairs.
func TestDifferentialRandom(t *testing.T) {
	requireReference(t)
	count := 2_000_000
	if testing.Short() {
		count = 100_000
	}
	if s := os.Getenv("FNMATCH_DIFF_COUNT"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		count = n
	}
	r := rand.New(rand.NewPCG(1, 2))
	fails := 0
	for range count {
		p := randomPattern(r)
		n := randomName(r, p)
		if !differ(t, p, n) {
			fails++
			if fails > 50 {
				t.Fatal("too many mismatches")
			}
		}
	}
}

// classNames are the C locale's classes plus names glibc rejects.
var classNames = []string{
	"alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print",
	"punct", "space", "upper", "xdigit",
	"", "foo", "ALPHA", "alph", "alphaa", "z", "zero", "word", "ascii", "combining",
}

// rangeEnds are the range end points tried against every byte.
const rangeEnds = "\x01\t !-09AZ[\\]^`az{~\x7f\x80\xe9\xff"

// TestDifferentialBrackets sweeps every name byte against classes,
// equivalence classes, collating symbols, escapes and ranges, where a random
// walk would rarely hit the byte that matters.
func TestDifferentialBrackets(t *testing.T) {
	requireReference(t)
	var patterns []string
	for _, c := range classNames {
		cls := "[:" + c + ":]"
		patterns = append(patterns,
			"["+cls+"]", "[!"+cls+"]", "[^"+cls+"]", "[a"+cls+"]", "["+cls+"a]",
			"[!a"+cls+"]", "["+cls+"-z]", "[a-"+cls+"]", "x*["+cls+"]")
	}
	for c := 1; c < 256; c++ {
		b := string([]byte{byte(c)})
		patterns = append(patterns,
			b, `\`+b, "["+b+"]", "[!"+b+"]", `[\`+b+"]", "[="+b+"=]",
			"[[="+b+"=]]", "[[."+b+".]]", "[![."+b+".]]", "[[."+b+".]-]", "[a[="+b+"=]]")
	}
	for i := 0; i < len(rangeEnds); i++ {
		for j := 0; j < len(rangeEnds); j++ {
			lo, hi := string(rangeEnds[i]), string(rangeEnds[j])
			patterns = append(patterns,
				"["+lo+"-"+hi+"]", "[!"+lo+"-"+hi+"]", `[\`+lo+`-\`+hi+"]",
				"[[."+lo+".]-[."+hi+".]]", "[x"+lo+"-"+hi+"]", "["+lo+"-"+hi+"-]")
		}
	}
	names := []string{"", "[", "]", "-", "a", "[]", "x", "ab", "=", ".", ":", "[a", "xa"}
	for c := 1; c < 256; c++ {
		names = append(names, string([]byte{byte(c)}))
	}
	fails := 0
	for _, p := range patterns {
		for _, n := range names {
			if !differ(t, p, n) {
				fails++
				if fails > 50 {
					t.Fatal("too many mismatches")
				}
			}
		}
	}
}

// TestDifferentialClassNameLength probes glibc's limit on the length of a
// character class name, both while comparing members and while skipping the
// rest of a bracket that already matched.
func TestDifferentialClassNameLength(t *testing.T) {
	requireReference(t)
	for _, n := range []int{0, 1, 5, 6, 255, 256, 257, 1023, 1024, 2045, 2046, 2047, 2048, 2049, 2050, 4100} {
		letters := strings.Repeat("a", n)
		for _, p := range []string{
			"[[:" + letters + "]",
			"[[:" + letters + ":]x]",
			"[[:" + letters + "]x]",
			"[x[:" + letters + "]",
			"[x[:" + letters + ":]]",
			"[x[:" + letters + "]]",
			"*[x[:" + letters + "]]",
		} {
			for _, name := range []string{"[", "x", "a", ":", "]", "[a", "x]"} {
				differ(t, p, name)
			}
		}
	}
}
