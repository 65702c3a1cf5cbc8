package modname

import (
	"errors"
	"strings"
	"testing"
)

// onlyDashesChanged reports whether out is in with some '-' turned into '_'.
func onlyDashesChanged(in, out string) bool {
	if len(in) != len(out) {
		return false
	}
	for i := 0; i < len(in); i++ {
		if in[i] != out[i] && (in[i] != '-' || out[i] != '_') {
			return false
		}
	}
	return true
}

// FuzzModname checks the three normalizers and FromPath on arbitrary
// strings.
func FuzzModname(f *testing.F) {
	for _, s := range []string{
		"", "foo-bar.ko.xz", "kernel/drivers/net/e1000e.ko.zst", "/", "a/",
		"pci:v00008086d*sv*sd*bc*sc*i*", "usb:v[0-9-]p-x", "a]b", "[", "a[-", "x\x00-y",
		strings.Repeat("-", MaxLen+2),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if strings.ContainsAny(n, "-.\x00") || len(n) > MaxLen {
			t.Fatalf("Normalize(%q) = %q", s, n)
		}
		if !strings.HasPrefix(strings.ReplaceAll(s, "-", "_"), n) {
			t.Fatalf("Normalize(%q) = %q is not a prefix of the input with '_' for '-'", s, n)
		}
		if Normalize(n) != n {
			t.Fatalf("Normalize is not idempotent on %q: %q then %q", s, n, Normalize(n))
		}

		p := FromPath(s)
		if strings.ContainsAny(p, "-./\x00") {
			t.Fatalf("FromPath(%q) = %q", s, p)
		}

		u, uerr := Underscores(s)
		if uerr != nil {
			// On error the string comes back converted up to the bad
			// bracket: only dashes changed, and no longer than the input.
			if !errors.Is(uerr, ErrBracket) || len(u) != len(s) || !onlyDashesChanged(s, u) {
				t.Fatalf("Underscores(%q) = %q, %v", s, u, uerr)
			}
		} else {
			if !onlyDashesChanged(s, u) || !IsUnderscored(u) {
				t.Fatalf("Underscores(%q) = %q", s, u)
			}
			if u2, err := Underscores(u); err != nil || u2 != u {
				t.Fatalf("Underscores is not idempotent on %q: %q then %q, %v", s, u, u2, err)
			}
		}

		a, aerr := Alias(s)
		if aerr != nil {
			if !errors.Is(aerr, ErrBracket) || a != "" {
				t.Fatalf("Alias(%q) = %q, %v", s, a, aerr)
			}
		} else if len(a) > MaxLen || strings.IndexByte(a, 0) >= 0 || !IsUnderscored(a) {
			t.Fatalf("Alias(%q) = %q", s, a)
		}

		if strings.IndexByte(s, 0) < 0 && len(s) <= MaxLen {
			if (aerr == nil) != (uerr == nil) {
				t.Fatalf("on %q Alias fails with %v and Underscores with %v", s, aerr, uerr)
			}
			if aerr == nil && uerr == nil && a != u {
				t.Fatalf("on %q Alias gives %q and Underscores %q", s, a, u)
			}
		}
	})
}
