package depmod

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gokmod/modprobe/internal/elfmod"
)

// resolve is depmod_load_dependencies and depmod_calculate_dependencies:
// each module depends on the owners of the symbols it needs; the modules
// are then sorted topologically (those nobody needs first), which orders
// every dependency list. A cycle is reported and fails the run.
func (r *run) resolve() error {
	for _, m := range r.modules {
		r.dependencies(m)
	}
	n := len(r.modules)
	users := make([]int, n)
	var roots []int
	for i, m := range r.modules {
		users[i] = m.users
		if users[i] == 0 {
			roots = append(roots, i)
		}
	}
	sorted := 0
	for len(roots) > 0 {
		src := r.modules[roots[len(roots)-1]]
		roots = roots[:len(roots)-1]
		src.depSortIdx = sorted
		sorted++
		for _, dst := range src.deps {
			users[dst.idx]--
			if users[dst.idx] == 0 {
				roots = append(roots, dst.idx)
			}
		}
	}
	if sorted < n {
		r.reportCycles(users)
		return fmt.Errorf("depmod: %w", ErrCycles)
	}
	for _, m := range r.modules {
		if len(m.deps) > 1 {
			slices.SortStableFunc(m.deps, func(a, b *mod) int { return a.depSortIdx - b.depSortIdx })
		}
	}
	return nil
}

// dependencies is depmod_load_module_dependencies.
func (r *run) dependencies(m *mod) {
	check := r.opts.Symvers != ""
	for _, s := range m.imports {
		weak := s.Bind == elfmod.STBWeak
		sym := r.findSymbol(s.Name)
		if sym == nil {
			if r.opts.ErrSyms && !weak {
				r.warnf("%s needs unknown symbol %s", m.path, s.Name)
			}
			continue
		}
		if check && sym.crc != s.CRC && !weak && r.opts.ErrSyms {
			r.warnf("%s disagrees about version of symbol %s", m.path, s.Name)
		}
		if sym.owner == nil || slices.Contains(m.deps, sym.owner) {
			continue
		}
		m.deps = append(m.deps, sym.owner)
		sym.owner.users++
		if r.opts.Show != nil {
			fmt.Fprintf(r.opts.Show, "%s needs \"%s\": %s\n", m.path, sym.name, sym.owner.path)
		}
	}
}

// vertex is a step of the cycle search: a module and how it was reached.
type vertex struct {
	parent *vertex
	mod    *mod
	depth  int // how many vertices lead to it
}

// pathBack returns the modules v was reached through, from the nearest
// one that is m, if there is one, to v's parent; nil when m is not on the
// way to v.
func (v *vertex) pathBack(m *mod) []*mod {
	var chain []*mod
	for p := v.parent; p != nil; p = p.parent {
		chain = append(chain, p.mod)
		if p.mod == m {
			slices.Reverse(chain)
			return chain
		}
	}
	return nil
}

// maxCycleSteps bounds the steps of the cycle search. kmod walks every
// path from each root, which a tree can make exponentially many; past
// the bound gokmod reports what it found and stops.
const maxCycleSteps = 1 << 20

// reportCycles is depmod_report_cycles: from each module still in a
// cycle (users left), a depth-first search reports each cycle back to
// it, then the number of modules in cycles.
//
// The roots are kept as kmod keeps them, in a circular list whose head,
// when a module is taken out of it, becomes the module that followed the
// one taken out: which module a cycle is reported from depends on it.
// Where kmod's search never ends (a path from a root reaches a cycle the
// root is not part of, round which kmod walks forever), gokmod reports
// that cycle once, from the module the path reached it by, and walks no
// module twice on one path; the report is otherwise kmod's.
func (r *run) reportCycles(users []int) {
	var roots []*mod
	for i, m := range r.modules {
		if users[i] > 0 {
			roots = append(roots, m)
		}
	}
	inLoop := map[string]bool{}
	// remove takes m out of the circle, which then starts after it.
	remove := func(m *mod) {
		if i := slices.Index(roots, m); i >= 0 {
			roots = slices.Concat(roots[i+1:], roots[:i])
		}
	}
	// report reports the cycle through chain back to its first module.
	report := func(chain []*mod, last *mod) string {
		var b strings.Builder
		for _, c := range chain {
			inLoop[c.name] = true
			b.WriteString(c.name)
			b.WriteString(" -> ")
			remove(c)
		}
		b.WriteString(last.name)
		return b.String()
	}
	beyond := map[string]bool{} // cycles kmod would walk forever, reported

	steps := 0
	for len(roots) > 0 {
		root := &vertex{mod: roots[0]}
		roots = roots[1:]
		stack := []*vertex{root}
		// The modules on the way to the vertex walked, which the search
		// being depth-first are its parents', and how often each is.
		var path []*mod
		onPath := map[*mod]int{}
		for len(stack) > 0 {
			if steps++; steps > maxCycleSteps {
				r.errorf("Cycle search stopped after %d steps", maxCycleSteps)
				roots = nil
				break
			}
			v := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for len(path) > v.depth {
				onPath[path[len(path)-1]]--
				path = path[:len(path)-1]
			}
			m := v.mod
			if m.visited && m == root.mod {
				var chain []*mod
				for p := v.parent; p != nil; p = p.parent {
					chain = append(chain, p.mod)
				}
				slices.Reverse(chain)
				r.errorf("Cycle detected: %s", report(chain, m))
				continue
			}
			if onPath[m] > 0 {
				// kmod would go round this cycle forever.
				if c := report(v.pathBack(m), m); !beyond[c] {
					beyond[c] = true
					r.errorf("Cycle detected: %s", c)
				}
				continue
			}
			m.visited = true
			if len(m.deps) == 0 {
				remove(m)
				continue
			}
			path = append(path, m)
			onPath[m]++
			for _, d := range m.deps {
				stack = append(stack, &vertex{parent: v, mod: d, depth: v.depth + 1})
			}
		}
	}
	r.errorf("Found %d modules in dependency cycles!", len(inLoop))
}
