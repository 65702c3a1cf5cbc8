package fnmatch

import (
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/fnmatch/internal/cfnmatch"
)

// FuzzMatch compares Match with glibc's fnmatch(pattern, name, 0) when the
// cgo reference is available; otherwise it only checks that Match does not
// panic and keeps its documented invariants. The committed seed corpus is in
// testdata/fuzz/FuzzMatch.
func FuzzMatch(f *testing.F) {
	for _, tc := range matchTests {
		f.Add(tc.pattern, tc.name)
	}
	ref := cfnmatch.Available()
	f.Fuzz(func(t *testing.T, pattern, name string) {
		got := Match(pattern, name)
		if ref {
			if want := cfnmatch.Match(pattern, name); got != want {
				t.Fatalf("Match(%q, %q) = %v, glibc fnmatch says %v", pattern, name, got, want)
			}
		}
		// Invariants that hold without the reference.
		p, n := cut(pattern), cut(name)
		if !HasMeta(p) && !strings.Contains(p, `\`) && got != (p == n) {
			t.Fatalf("Match(%q, %q) = %v for a literal pattern", pattern, name, got)
		}
		if Match(p, n) != got {
			t.Fatalf("Match(%q, %q) changed when cut at NUL", pattern, name)
		}
	})
}

// cut returns s up to its first NUL byte, as C would see it.
func cut(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}
