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
	} {
		if got := joinParams(tc.params, true); got != tc.want {
			t.Errorf("joinParams(%q, true) = %q, want %q", tc.params, got, tc.want)
		}
		if got, want := joinParams(tc.params, false), JoinParams(tc.params); got != want {
			t.Errorf("joinParams(%q, false) = %q, JoinParams %q", tc.params, got, want)
		}
	}
}
