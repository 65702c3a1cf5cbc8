package cscan

import (
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	for _, c := range []struct {
		data string
		size int
		want []string
	}{
		{"", 8, nil},
		{"a\nb\n", 8, []string{"a\n", "b\n"}},
		{"a\nlast", 8, []string{"a\n", "last"}},
		{"abcdefghij\n", 5, []string{"abcd", "efgh", "ij\n"}},
		{"abcd\n", 5, []string{"abcd", "\n"}},
		{"a\x00b\n\n", 8, []string{"a\x00b\n", "\n"}},
	} {
		var got []string
		for _, l := range Lines([]byte(c.data), c.size) {
			got = append(got, string(l))
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) || len(got) != len(c.want) {
			t.Errorf("Lines(%q, %d) = %q, want %q", c.data, c.size, got, c.want)
		}
	}
}

func TestWordAndCString(t *testing.T) {
	for _, c := range []struct{ in, word, rest string }{
		{"  abc def", "abc", " def"},
		{"\t\vx\n", "x", "\n"},
		{"one", "one", ""},
		{"   ", "", ""},
	} {
		w, r, ok := Word(c.in)
		if w != c.word || r != c.rest || ok != (c.word != "") {
			t.Errorf("Word(%q) = %q, %q, %v", c.in, w, r, ok)
		}
	}
	if got := CString("ab\x00cd"); got != "ab" {
		t.Errorf("CString = %q", got)
	}
	if got := CString("abc"); got != "abc" {
		t.Errorf("CString = %q", got)
	}
}

func TestUint(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint32
		rest string
		ok   bool
	}{
		{"10:203", 10, ":203", true},
		{"  +7x", 7, "x", true},
		{"-1", math.MaxUint32, "", true},
		{"-5 ", math.MaxUint32 - 4, " ", true},
		{"4294967296", 0, "", true},
		{"4294967301", 5, "", true},
		{"18446744073709551615", math.MaxUint32, "", true},
		{"18446744073709551616", math.MaxUint32, "", true},
		{"-99999999999999999999", math.MaxUint32, "", true},
		{"x1", 0, "x1", false},
		{"-", 0, "", false},
		{"", 0, "", false},
	} {
		v, rest, ok := Uint(c.in)
		if v != c.want || rest != c.rest || ok != c.ok {
			t.Errorf("Uint(%q) = %d, %q, %v; want %d, %q, %v", c.in, v, rest, ok, c.want, c.rest, c.ok)
		}
	}
	if v, _, ok := Uint(strings.Repeat("9", 1000)); !ok || v != math.MaxUint32 {
		t.Errorf("a long number: %d, %v", v, ok)
	}
}

// FuzzUint checks Uint against a model built on math/big: glibc's %u is
// strtoul's value (the largest one past the 64-bit range, negated modulo
// 2^64 after a minus sign) stored into 32 bits.
func FuzzUint(f *testing.F) {
	for _, s := range []string{"10:203", " -1", "+18446744073709551616", "4294967301x", "", "-", "\t\n7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, rest, ok := Uint(s)
		body := SkipSpace(s)
		neg := false
		if body != "" && (body[0] == '+' || body[0] == '-') {
			neg = body[0] == '-'
			body = body[1:]
		}
		n := 0
		for n < len(body) && body[n] >= '0' && body[n] <= '9' {
			n++
		}
		if n == 0 {
			if ok || v != 0 {
				t.Fatalf("Uint(%q) = %d, %v without digits", s, v, ok)
			}
			return
		}
		want := new(big.Int)
		want.SetString(body[:n], 10)
		max := new(big.Int).SetUint64(math.MaxUint64)
		switch {
		case want.Cmp(max) > 0:
			want = max
		case neg:
			want.Sub(new(big.Int).Lsh(big.NewInt(1), 64), want)
			want.And(want, max)
		}
		want.And(want, big.NewInt(math.MaxUint32))
		if !ok || uint64(v) != want.Uint64() || rest != body[n:] {
			t.Fatalf("Uint(%q) = %d, %q, %v; want %d, %q", s, v, rest, ok, want.Uint64(), body[n:])
		}
	})
}
