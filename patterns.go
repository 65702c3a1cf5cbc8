package modprobe

import (
	"strings"

	"github.com/gokmod/modprobe/internal/config"
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
		// A backslash escapes in fnmatch ("a\b" matches "ab"), so only a
		// pattern without it and without wildcards is its own literal.
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

// all returns the position of every pattern matching name, in order.
func (x *patternIndex) all(name string) []int {
	lit := x.literal[name]
	var out []int
	for _, i := range x.wild {
		for len(lit) > 0 && lit[0] < i {
			out = append(out, lit[0])
			lit = lit[1:]
		}
		if fnmatch.Match(x.pattern(i), name) {
			out = append(out, i)
		}
	}
	return append(out, lit...)
}

// confIndex holds lookup structures over a configuration, built once per
// Loader.
type confIndex struct {
	cfg      *config.Config
	aliases  *patternIndex
	install  *patternIndex
	remove   *patternIndex
	softdeps *patternIndex
	weakdeps *patternIndex
	options  map[string][]int // exact module name -> positions
	black    map[string]bool
}

func newConfIndex(c *config.Config) confIndex {
	x := confIndex{
		cfg:      c,
		aliases:  newPatternIndex(len(c.Aliases), func(i int) string { return c.Aliases[i].Pattern }),
		install:  newPatternIndex(len(c.Install), func(i int) string { return c.Install[i].Module }),
		remove:   newPatternIndex(len(c.Remove), func(i int) string { return c.Remove[i].Module }),
		softdeps: newPatternIndex(len(c.Softdeps), func(i int) string { return c.Softdeps[i].Module }),
		weakdeps: newPatternIndex(len(c.Weakdeps), func(i int) string { return c.Weakdeps[i].Module }),
		options:  map[string][]int{},
		black:    map[string]bool{},
	}
	for i, o := range c.Options {
		if o.Options != "" {
			x.options[o.Module] = append(x.options[o.Module], i)
		}
	}
	for _, b := range c.Blacklist {
		x.black[b.Module] = true
	}
	return x
}

// aliasesFor returns the positions of the alias lines matching name.
func (x *confIndex) aliasesFor(name string) []int { return x.aliases.all(name) }

// installFor returns the first install command whose pattern matches
// name, or nil.
func (x *confIndex) installFor(name string) *string {
	return commandAt(x.cfg.Install, x.install.first(name))
}

// removeFor returns the first remove command whose pattern matches name,
// or nil.
func (x *confIndex) removeFor(name string) *string {
	return commandAt(x.cfg.Remove, x.remove.first(name))
}

func commandAt(cmds []config.Command, i int) *string {
	if i < 0 {
		return nil
	}
	return &cmds[i].Command
}

// exactCommand returns the first command of cmds written for exactly
// name (no pattern matching: lookup step 4 compares strings), or nil.
func (x *confIndex) exactCommand(cmds []config.Command, name string) *string {
	for i := range cmds {
		if cmds[i].Module == name {
			return &cmds[i].Command
		}
	}
	return nil
}

// softdepFor returns the first softdep line whose pattern matches name:
// only one line applies, as in kmod.
func (x *confIndex) softdepFor(name string) *config.Softdep {
	if i := x.softdeps.first(name); i >= 0 {
		return &x.cfg.Softdeps[i]
	}
	return nil
}

// weakdepFor returns the first weakdep line whose pattern matches name:
// as with softdeps, only one line applies (libkmod's
// kmod_module_get_weakdeps stops at the first match).
func (x *confIndex) weakdepFor(name string) *config.Weakdep {
	if i := x.weakdeps.first(name); i >= 0 {
		return &x.cfg.Weakdeps[i]
	}
	return nil
}
