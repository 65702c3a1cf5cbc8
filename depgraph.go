package modprobe

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
			p.errorf(originSoftdep, "failed to lookup soft dependency '%s', continuing anyway.", n)
			continue
		}
		mods = append(mods, ms...)
	}
	return mods
}

// probeBuild is a probe list being built, with the ordering constraints
// the softdeps put on it: after[i] lists earlier entries that entry i
// must wait for when the list is loaded in parallel.
type probeBuild struct {
	list  []*module
	after map[int][]int
}

// probeList returns the probe list of mod. With ignoreCmd (modprobe -i)
// the requested module's own softdeps are skipped and its install command
// ignored; its dependencies' softdeps still apply.
func (p *pool) probeList(mod *module, ignoreCmd bool) *probeBuild {
	for _, m := range p.mods {
		m.visited = false
		m.required = false
	}
	b := &probeBuild{after: map[int][]int{}}
	p.probe(mod, true, ignoreCmd, b)
	return b
}

func (p *pool) probe(m *module, required, ignoreCmd bool, b *probeBuild) {
	if m.visited {
		return
	}
	m.visited = true
	deps := p.dependencies(m)
	if required {
		m.required = true
		for _, d := range deps {
			d.required = true
		}
	}
	for _, d := range deps {
		p.fillSoftdep(d, b)
	}
	if ignoreCmd {
		b.list = append(b.list, m)
		m.ignorecmd = true
		return
	}
	p.fillSoftdep(m, b)
}

// fillSoftdep appends m surrounded by its softdeps. A module with any
// softdep is inserted directly even when it has an install command. m
// waits for its pre softdeps' entries; its post softdeps' entries wait
// for m.
func (p *pool) fillSoftdep(m *module, b *probeBuild) {
	pre, post := p.softdepsOf(m)
	start := len(b.list)
	for _, s := range pre {
		p.probe(s, false, false, b)
	}
	idx := len(b.list)
	b.list = append(b.list, m)
	for j := start; j < idx; j++ {
		b.after[idx] = append(b.after[idx], j)
	}
	m.ignorecmd = len(pre) > 0 || len(post) > 0
	for _, s := range post {
		p.probe(s, false, false, b)
	}
	for j := idx + 1; j < len(b.list); j++ {
		b.after[j] = append(b.after[j], idx)
	}
}

// schedule returns, for each entry of a probe list, the earlier entries
// it must wait for when the list is loaded in parallel: the softdep
// constraints, the entries its modules.dep line names, an earlier entry
// for the same module, and every entry before and after an install
// command, which may do anything.
func (p *pool) schedule(b *probeBuild, cmd []bool) [][]int {
	after := make([][]int, len(b.list))
	lastBarrier := -1
	for i, m := range b.list {
		need := map[int]bool{}
		for _, j := range b.after[i] {
			need[j] = true
		}
		deps := map[*module]bool{}
		for _, d := range p.dependencies(m) {
			deps[d] = true
		}
		for j := 0; j < i; j++ {
			o := b.list[j]
			if o == m || o.name == m.name || deps[o] || cmd[i] || j <= lastBarrier {
				need[j] = true
			}
		}
		if cmd[i] {
			lastBarrier = i
		}
		for j := range need {
			after[i] = append(after[i], j)
		}
	}
	return after
}
