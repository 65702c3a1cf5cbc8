package modprobe

import (
	"math"
	"slices"
)

// This file builds the probe list: the modules one modprobe request
// inserts, in order, exactly as libkmod's kmod_module_get_probe_list does.
//
// The list is the modules.dep closure of the requested module in load
// order, with each entry's pre softdeps expanded in front of it and its
// post softdeps after it. Softdep targets get their own full expansion;
// the dependencies of the requested module do not (libkmod trusts the
// closure in its modules.dep line). Only the requested module and softdep
// targets are marked visited, so a module can appear several times: kmod
// prints every occurrence with --show-depends, and a real load skips the
// later ones because the module is then live.

// softdepsOf returns the modules the first softdep directive matching m
// names, each name resolved through the full lookup chain.
func (p *pool) softdepsOf(m *module) (pre, post []*module) {
	sd := p.l.conf.softdepFor(m.name)
	if sd == nil {
		return nil, nil
	}
	return p.lookupSoftdeps(sd.Pre), p.lookupSoftdeps(sd.Post)
}

func (p *pool) lookupSoftdeps(names []string) []*module {
	var mods []*module
	for _, n := range names {
		ms, err := p.lookup(n)
		if err != nil {
			if p.l.compat == CompatKmod30 {
				p.errorf(eventSoftdep, "failed to lookup soft dependency '%s', continuing anyway.", n)
			} else { // kmod 34 shares the lookup with weak dependencies
				p.errorf(eventSoftdep, "failed to lookup dependency '%s', continuing anyway.", n)
			}
			continue
		}
		mods = append(mods, ms...)
	}
	return mods
}

// noNode is a probe-list node reference that names nothing: a probe that
// appended no entry (its module was already visited).
const noNode = math.MinInt

// probeBuild is a probe list being built and, with sched, the ordering
// constraints a parallel load puts on it. They are kept linear in the
// list, whatever the depth of softdep chains: a node reference r >= 0 is
// entry r, and ^r for r < 0 is a join node, done when every node it joins
// is. An entry waits for its gate (the entry whose post softdeps it
// belongs to, which itself waits for its own gate) and for the join of
// each of its pre softdeps' probes, rather than for every entry between.
type probeBuild struct {
	list  []*module
	sched bool
	waits [][]int // per entry: the nodes it waits for
	joins [][]int // per join node: the nodes it joins
}

// add appends m to the list, waiting for the nodes in waits, and returns
// its node.
func (b *probeBuild) add(m *module, waits ...int) int {
	idx := len(b.list)
	b.list = append(b.list, m)
	if b.sched {
		var w []int
		for _, r := range waits {
			if r != noNode {
				w = append(w, r)
			}
		}
		b.waits = append(b.waits, w)
	}
	return idx
}

// join returns a node that is done when every node in refs is.
func (b *probeBuild) join(refs []int) int {
	if !b.sched {
		return noNode
	}
	refs = slices.DeleteFunc(refs, func(r int) bool { return r == noNode })
	switch len(refs) {
	case 0:
		return noNode
	case 1:
		return refs[0]
	}
	b.joins = append(b.joins, refs)
	return ^(len(b.joins) - 1)
}

// probeList returns the probe list of mod. With ignoreCmd (modprobe -i)
// the requested module's own softdeps are skipped and its install command
// ignored; its dependencies' softdeps still apply. With sched it also
// records the constraints of a parallel load.
func (p *pool) probeList(mod *module, ignoreCmd, sched bool) *probeBuild {
	p.gen++
	b := &probeBuild{sched: sched, list: make([]*module, 0, len(mod.deps)+1)}
	p.probe(mod, true, ignoreCmd, b, noNode)
	return b
}

// probe appends m's dependencies and m, each with its softdeps, unless m
// was visited in this probe; it returns the node done when all of them
// are. Entries wait for gate.
func (p *pool) probe(m *module, required, ignoreCmd bool, b *probeBuild, gate int) int {
	if m.visited == p.gen {
		return noNode
	}
	m.visited = p.gen
	deps := p.dependencies(m)
	if required {
		m.required = p.gen
		for _, d := range deps {
			d.required = p.gen
		}
	}
	var done []int
	for _, d := range deps {
		r := p.fillSoftdep(d, b, gate)
		if b.sched {
			done = append(done, r)
		}
	}
	if ignoreCmd {
		done = append(done, b.add(m, gate))
		m.ignorecmd = true
		return b.join(done)
	}
	done = append(done, p.fillSoftdep(m, b, gate))
	return b.join(done)
}

// fillSoftdep appends m surrounded by its softdeps and returns the node
// done when all of them are. A module with any softdep is inserted
// directly even when it has an install command. m waits for its pre
// softdeps' entries; its post softdeps' entries wait for m.
func (p *pool) fillSoftdep(m *module, b *probeBuild, gate int) int {
	pre, post := p.softdepsOf(m)
	var waits []int
	if b.sched {
		waits = append(waits, gate)
	}
	for _, s := range pre {
		r := p.softdepProbe(s, b, gate)
		if b.sched {
			waits = append(waits, r)
		}
	}
	idx := b.add(m, waits...)
	m.ignorecmd = len(pre) > 0 || len(post) > 0
	if len(post) == 0 {
		return idx
	}
	done := []int{idx}
	for _, s := range post {
		done = append(done, p.softdepProbe(s, b, idx))
	}
	return b.join(done)
}

// softdepProbe is probe for a softdep s. A denied one (Options.Deny) is
// added alone, so that the plan shows it, and the load skips it: nothing
// it needs is loaded for it.
func (p *pool) softdepProbe(s *module, b *probeBuild, gate int) int {
	if p.l.deny != nil && s.visited != p.gen && p.l.denied(s.name) {
		s.visited = p.gen
		return b.add(s, gate)
	}
	return p.probe(s, false, false, b, gate)
}

// schedule returns, for each node of a probe list (its entries, then its
// join nodes), the nodes it must wait for when the list is loaded in
// parallel: the softdep constraints, the last earlier entry for each
// module its modules.dep line names, the last earlier entry for the same
// module, and, around an install command (which may do anything), every
// entry before it, which every later entry waits for through it. Each
// wait is one edge to the latest such entry, the earlier ones being
// ordered before it, so the result stays linear in the list.
func (p *pool) schedule(b *probeBuild, cmd []bool) [][]int {
	n := len(b.list)
	node := func(r int) int {
		if r < 0 {
			return n + ^r
		}
		return r
	}
	after := make([][]int, n+len(b.joins))
	for k, refs := range b.joins {
		for _, r := range refs {
			after[n+k] = append(after[n+k], node(r))
		}
	}
	stamp := make([]int, n+len(b.joins))
	lastOf := map[string]int{}
	lastBarrier := -1
	for i, m := range b.list {
		need := func(j int) {
			if stamp[j] != i+1 {
				stamp[j] = i + 1
				after[i] = append(after[i], j)
			}
		}
		for _, r := range b.waits[i] {
			need(node(r))
		}
		if j, ok := lastOf[m.name]; ok {
			need(j)
		}
		for _, d := range p.dependencies(m) {
			if j, ok := lastOf[d.name]; ok {
				need(j)
			}
		}
		if lastBarrier >= 0 {
			need(lastBarrier)
		}
		if cmd[i] {
			for j := lastBarrier + 1; j < i; j++ {
				need(j)
			}
			lastBarrier = i
		}
		lastOf[m.name] = i
	}
	return after
}
