package modprobe

import (
	"strings"

	"github.com/gokmod/modprobe/internal/fnmatch"
)

// patternIndex answers "which entries of a configuration list does this
// name match" in list order, as kmod's linear fnmatch scans do, without
// calling fnmatch for the common literal patterns.
type patternIndex struct {
	literal map[string][]int // pattern -> positions, ascending
	wild    []int            // positions of patterns with wildcards or escapes
	pattern func(i int) string
}

// newPatternIndex indexes n patterns; pattern(i) returns the i-th.
func newPatternIndex(n int, pattern func(i int) string) *patternIndex {
	x := &patternIndex{literal: map[string][]int{}, pattern: pattern}
	for i := range n {
		p := pattern(i)
		if strings.ContainsAny(p, `*?[\`) {
			x.wild = append(x.wild, i)
		} else {
			x.literal[p] = append(x.literal[p], i)
		}
	}
	return x
}

// first returns the position of the first pattern matching name, or -1.
func (x *patternIndex) first(name string) int {
	best := -1
	if l := x.literal[name]; len(l) > 0 {
		best = l[0]
	}
	for _, i := range x.wild {
		if best >= 0 && i > best {
			break
		}
		if fnmatch.Match(x.pattern(i), name) {
			return i
		}
	}
	return best
}

// all calls fn with the position of every pattern matching name, in
// order.
func (x *patternIndex) all(name string, fn func(i int)) {
	lit := x.literal[name]
	for _, i := range x.wild {
		for len(lit) > 0 && lit[0] < i {
			fn(lit[0])
			lit = lit[1:]
		}
		if fnmatch.Match(x.pattern(i), name) {
			fn(i)
		}
	}
	for _, i := range lit {
		fn(i)
	}
}

// confIndex holds the pattern indexes of a configuration.
type confIndex struct {
	aliases  *patternIndex
	install  *patternIndex
	remove   *patternIndex
	softdeps *patternIndex
	options  map[string][]int // exact module name -> positions
	black    map[string]bool
}
