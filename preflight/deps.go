package preflight

import (
	"github.com/gokmod/modprobe/depmod"
	"github.com/gokmod/modprobe/internal/modname"
)

// dependencies fills each verdict's Deps (insmod order) and adds the
// problems of dependencies among the candidates that will not load.
func (ck *moduleChecker) dependencies(cands []*candidate) {
	own := make(map[*candidate]bool, len(cands))
	for _, c := range cands {
		own[c] = len(c.verdict.Problems) > 0
	}
	for _, c := range cands {
		if c.res == nil {
			continue
		}
		var order []string
		seen := map[string]bool{c.path: true}
		var visit func(r *depmod.Resolved)
		visit = func(r *depmod.Resolved) {
			for _, d := range r.Deps {
				if seen[d] {
					continue
				}
				seen[d] = true
				if dr := ck.byPath[d]; dr != nil {
					visit(dr)
				}
				order = append(order, d)
			}
		}
		visit(c.res)
		c.verdict.Deps = order
		var refused []*Problem
		for _, d := range order {
			dc := ck.byName[modname.FromPath(d)]
			if dc != nil && dc.path == d && own[dc] {
				refused = append(refused, problem(c, dc.name, ErrDependency, "%s", dc.name))
			}
		}
		c.verdict.Problems = append(refused, c.verdict.Problems...)
	}
}
