package modprobe

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScheduleMatchesPairwise checks the linear parallel-load constraints
// against their definition, written out pair by pair as the first
// version of the scheduler computed them (quadratic): on random module
// trees with random modules.dep closures, softdeps and install commands,
// entry i must wait, directly or through other nodes, for exactly the
// entries j < i that the pairwise rules order before it, closed
// transitively.
func TestScheduleMatchesPairwise(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	cases, edges := 0, 0
	for trial := range 300 {
		l, req := randomScheduleTree(t, rng, trial)
		pl, err := l.plan(context.Background(), req, nil, PlanOptions{DeferStateChecks: true}, true)
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		p, mods, err := l.resolve(context.Background(), "plan", req)
		if err != nil {
			t.Fatal(err)
		}
		if len(pl.Probes) != 1 || len(mods) != 1 || pl.Probes[0].Skip != SkipNone {
			t.Fatalf("trial %d: %d probes", trial, len(pl.Probes))
		}
		pr := pl.Probes[0]
		want := pairwiseSchedule(p, mods[0], pr.Actions)
		n := len(pr.Actions)
		if len(want) != n {
			t.Fatalf("trial %d: reference list has %d entries, plan %d", trial, len(want), n)
		}
		got := closure(pr.after, n)
		ref := closure(want, n)
		for i := range n {
			for j := range n {
				if got[i][j] != ref[i][j] {
					t.Fatalf("trial %d (%s): entry %d (%s) waits for %d (%s): %v, pairwise rules say %v\nactions %v\nafter %v",
						trial, req, i, pr.Actions[i].Module, j, pr.Actions[j].Module, got[i][j], ref[i][j], pr.Actions, pr.after)
				}
				if ref[i][j] {
					edges++
				}
			}
		}
		cases++
		_ = l.Close()
	}
	t.Logf("%d random probe lists, %d ordered pairs identical", cases, edges)
}

// randomScheduleTree writes a module tree of a few modules with random
// dependencies, softdeps and install commands, and returns a Loader for it
// and the module to request.
func randomScheduleTree(t *testing.T, rng *rand.Rand, trial int) (*Loader, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lib/modules/1.0")
	conf := filepath.Join(t.TempDir(), "modprobe.d")
	sysfs := t.TempDir()
	for _, d := range []string{filepath.Join(dir, "kernel"), conf} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	n := 2 + rng.Intn(9)
	deps := make([]map[int]bool, n)
	var dep, cf strings.Builder
	for i := range n {
		deps[i] = map[int]bool{}
		for j := range i {
			if rng.Intn(4) == 0 {
				deps[i][j] = true
				for k := range deps[j] {
					deps[i][k] = true
				}
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("kernel/m%d.ko", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&dep, "kernel/m%d.ko:", i)
		for j := i - 1; j >= 0; j-- {
			if deps[i][j] {
				fmt.Fprintf(&dep, " kernel/m%d.ko", j)
			}
		}
		dep.WriteString("\n")
		if rng.Intn(2) == 0 {
			fmt.Fprintf(&cf, "softdep m%d", i)
			for _, kind := range []string{"pre:", "post:"} {
				fmt.Fprintf(&cf, " %s", kind)
				for range rng.Intn(3) {
					fmt.Fprintf(&cf, " m%d", rng.Intn(n))
				}
			}
			cf.WriteString("\n")
		}
		if rng.Intn(6) == 0 {
			fmt.Fprintf(&cf, "install m%d /bin/true\n", i)
		}
	}
	files := map[string]string{filepath.Join(dir, "modules.dep"): dep.String(), filepath.Join(conf, "t.conf"): cf.String()}
	for f, s := range files {
		if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l, err := Open(Options{ModuleDir: dir, ConfigPaths: []string{conf}, SysfsDir: sysfs, ProcDir: sysfs})
	if err != nil {
		t.Fatalf("trial %d: %v", trial, err)
	}
	return l, fmt.Sprintf("m%d", rng.Intn(n))
}

// pairwiseSchedule rebuilds the probe list of mod with the softdep
// intervals, and applies the pairwise rules: an entry waits for every
// entry of its pre softdeps' probes, every entry of its owner's post
// softdeps waits for it, and entry i waits for an earlier entry j when j
// is the same module or a module of i's modules.dep line, when i is an
// install command, or when an install command lies between them.
func pairwiseSchedule(p *pool, mod *module, actions []Action) [][]int {
	var list []*module
	pairs := map[[2]int]bool{}
	visited := map[*module]bool{}
	var probe func(m *module)
	fill := func(m *module) {
		pre, post := p.softdepsOf(m)
		start := len(list)
		for _, s := range pre {
			probe(s)
		}
		idx := len(list)
		list = append(list, m)
		for j := start; j < idx; j++ {
			pairs[[2]int{idx, j}] = true
		}
		for _, s := range post {
			probe(s)
		}
		for j := idx + 1; j < len(list); j++ {
			pairs[[2]int{j, idx}] = true
		}
	}
	probe = func(m *module) {
		if visited[m] {
			return
		}
		visited[m] = true
		for _, d := range p.dependencies(m) {
			fill(d)
		}
		fill(m)
	}
	probe(mod)
	after := make([][]int, len(list))
	lastBarrier := -1
	for i, m := range list {
		cmd := i < len(actions) && actions[i].Kind == ActionInstall
		deps := map[*module]bool{}
		for _, d := range p.dependencies(m) {
			deps[d] = true
		}
		for j := range i {
			o := list[j]
			if pairs[[2]int{i, j}] || o == m || o.name == m.name || deps[o] || cmd || j <= lastBarrier {
				after[i] = append(after[i], j)
			}
		}
		if cmd {
			lastBarrier = i
		}
	}
	return after
}

// closure returns, for the first n nodes of a wait graph, which of those n
// nodes each waits for, directly or not.
func closure(after [][]int, n int) [][]bool {
	memo := make([][]bool, len(after))
	var reach func(i int) []bool
	reach = func(i int) []bool {
		if memo[i] != nil {
			return memo[i]
		}
		r := make([]bool, n)
		memo[i] = r
		for _, j := range after[i] {
			if j < n {
				r[j] = true
			}
			for k, ok := range reach(j) {
				r[k] = r[k] || ok
			}
		}
		return r
	}
	out := make([][]bool, n)
	for i := range n {
		out[i] = reach(i)
	}
	return out
}
