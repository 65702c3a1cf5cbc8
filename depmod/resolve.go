package depmod

import (
	"debug/elf"
	"fmt"
	"slices"
	"strings"
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
		weak := elf.SymBind(s.Bind) == elf.STB_WEAK
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
}

// reportCycles is depmod_report_cycles: from every module still in a
// cycle (users left), a depth-first search reports each cycle back to
// its start, then the number of modules in cycles.
func (r *run) reportCycles(users []int) {
	var roots []*mod
	for i, m := range r.modules {
		if users[i] > 0 {
			roots = append(roots, m)
		}
	}
	inLoop := map[string]bool{}
	remove := func(m *mod) {
		if i := slices.Index(roots, m); i >= 0 {
			roots = slices.Delete(roots, i, i+1)
		}
	}
	for len(roots) > 0 {
		root := &vertex{mod: roots[0]}
		roots = roots[1:]
		stack := []*vertex{root}
		for len(stack) > 0 {
			v := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			m := v.mod
			if m.visited && m == root.mod {
				var chain []*mod
				for p := v.parent; p != nil; p = p.parent {
					chain = append(chain, p.mod)
					inLoop[p.mod.name] = true
				}
				var b strings.Builder
				for i := len(chain) - 1; i >= 0; i-- {
					b.WriteString(chain[i].name)
					b.WriteString(" -> ")
					remove(chain[i])
				}
				b.WriteString(m.name)
				r.errorf("Cycle detected: %s", b.String())
				continue
			}
			m.visited = true
			if len(m.deps) == 0 {
				remove(m)
				continue
			}
			for _, d := range m.deps {
				stack = append(stack, &vertex{parent: v, mod: d})
			}
		}
	}
	r.errorf("Found %d modules in dependency cycles!", len(inLoop))
}
