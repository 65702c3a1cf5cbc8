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

// probeList returns the probe list of mod. With ignoreCmd (modprobe -i)
// the requested module's own softdeps are skipped and its install command
// ignored; its dependencies' softdeps still apply.
func (p *pool) probeList(mod *module, ignoreCmd bool) []*module {
	for _, m := range p.mods {
		m.visited = false
		m.required = false
	}
	var list []*module
	p.probe(mod, true, ignoreCmd, &list)
	return list
}

func (p *pool) probe(m *module, required, ignoreCmd bool, list *[]*module) {
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
		p.fillSoftdep(d, list)
	}
	if ignoreCmd {
		*list = append(*list, m)
		m.ignorecmd = true
		return
	}
	p.fillSoftdep(m, list)
}

// fillSoftdep appends m surrounded by its softdeps. A module with any
// softdep is inserted directly even when it has an install command.
func (p *pool) fillSoftdep(m *module, list *[]*module) {
	pre, post := p.softdepsOf(m)
	for _, s := range pre {
		p.probe(s, false, false, list)
	}
	*list = append(*list, m)
	m.ignorecmd = len(pre) > 0 || len(post) > 0
	for _, s := range post {
		p.probe(s, false, false, list)
	}
}
