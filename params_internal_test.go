package modprobe

import (
	"os/exec"
	"strings"
	"testing"
)

// FuzzShellQuote: /bin/sh reads shellQuote(s) back as the one word s,
// whatever s holds (but NUL, which no argument can).
func FuzzShellQuote(f *testing.F) {
	for _, s := range []string{
		"a=1", "", "max_loop=8${IFS}-a${IFS}dummy", "p=$(id)", "p=`id`", "it's", "''", `"a b"`,
		"x;y", "a|b&", "*", "~root", "a\tb", "a\nb", "\\", "$((1+1))", "é=ü", "\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsRune(s, 0) {
			return
		}
		q := shellQuote(s)
		// A word printed between markers; an empty word must vanish.
		out, err := exec.Command("/bin/sh", "-c", "printf '<%s>' "+q+"; printf .").Output()
		if err != nil {
			t.Fatalf("sh on %q: %v", q, err)
		}
		want := "<" + s + ">."
		if s == "" {
			want = "<>." // printf with no argument prints its format once
		}
		if string(out) != want {
			t.Errorf("shellQuote(%q) = %q; sh read %q", s, q, out)
		}
	})
}

func TestJoinParamsQuoted(t *testing.T) {
	for _, tc := range []struct {
		params []string
		want   string
	}{
		{nil, ""},
		{[]string{"a=1", "b=x y"}, `a=1 'b="x y"'`},
		{[]string{"a", "", "b"}, "a  b"},
		{[]string{"p=it's"}, `'p=it'\''s'`},
		{[]string{"b=it's a", "", "c"}, `'b="it'\''s a"'  c`},
		{[]string{"p=$(id)", "q='x y'"}, `'p=$(id)' 'q='\''x y'\'''`},
	} {
		if got := joinParams("", tc.params, true); got != tc.want {
			t.Errorf("joinParams(%q, true) = %q, want %q", tc.params, got, tc.want)
		}
		if got, want := joinParams("", tc.params, false), JoinParams(tc.params); got != want {
			t.Errorf("joinParams(%q, false) = %q, JoinParams %q", tc.params, got, want)
		}
		if got := paramsLen("x=1 ", tc.params, true); got != len("x=1 ")+len(tc.want) {
			t.Errorf("paramsLen(%q) = %d, want %d", tc.params, got, len("x=1 ")+len(tc.want))
		}
	}
}

// FuzzJoinParams: joinParams without quoting is what modprobe joins, after
// any prefix; paramsLen is the length of the quoted form; and /bin/sh
// reads the quoted form as the prefix's words, then each non-empty
// parameter as one word, as modprobe joins it.
func FuzzJoinParams(f *testing.F) {
	f.Add("count=2 ", "a=1\x00b=x y\x00\x00c='q r'\x00p=$(id)")
	f.Add("", "it's\x00\x00")
	f.Add("x ", "-a\x00b=\"x\x00*")
	f.Fuzz(func(t *testing.T, prefix, list string) {
		if prefix != "" && !strings.HasSuffix(prefix, " ") {
			prefix += " " // optionString's prefixes end with a space
		}
		params := strings.Split(list, "\x00")
		plain := joinParams(prefix, params, false)
		if want := prefix + JoinParams(params); plain != want {
			t.Fatalf("joinParams(%q, %q, false) = %q, want %q", prefix, params, plain, want)
		}
		quoted := joinParams(prefix, params, true)
		if n := paramsLen(prefix, params, true); n != len(quoted) {
			t.Fatalf("paramsLen = %d, len %d", n, len(quoted))
		}
		if !shellSafe(strings.ReplaceAll(prefix, " ", "")) || strings.Contains(list, "\n") {
			return // the prefix is shell text; a newline never reaches here
		}
		var want strings.Builder
		for _, w := range strings.Fields(prefix) {
			want.WriteString("<" + w + ">")
		}
		for _, p := range params {
			if p != "" {
				want.WriteString("<" + JoinParams([]string{p}) + ">")
			}
		}
		want.WriteString(".")
		out, err := exec.Command("/bin/sh", "-c", "for w in "+quoted+"; do printf '<%s>' \"$w\"; done; printf .").Output()
		if err != nil {
			t.Fatalf("sh on %q: %v", quoted, err)
		}
		if string(out) != want.String() {
			t.Errorf("joinParams(%q, %q, true) = %q; sh read %q, want %q", prefix, params, quoted, out, want.String())
		}
	})
}
