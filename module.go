package modprobe

import (
	"context"
	"strings"
	"syscall"

	"github.com/gokmod/modprobe/internal/index"
	"github.com/gokmod/modprobe/internal/modname"
)

// Module is a kernel module as a lookup found it.
type Module struct {
	// Name is the normalized module name (snd_hda_intel).
	Name string
	// Alias is the alias or configuration pattern the module was reached
	// through; empty when it was found by its name.
	Alias string
	// Path is the absolute path of the module file, or empty for a builtin
	// module and for an alias whose module has no file.
	Path string
	// Builtin reports whether the module is built into the kernel.
	Builtin bool
	// InstallCommand and RemoveCommand are the modprobe.d commands that
	// replace inserting or removing the module, if any.
	InstallCommand string
	RemoveCommand  string
}

// tri is a lazily computed boolean.
type tri uint8

const (
	triUnknown tri = iota
	triNo
	triYes
)

// module is libkmod's struct kmod_module: one object per name, or per
// name and alias, shared by every list that reaches it during a request.
type module struct {
	name  string
	alias string
	path  string
	deps  []*module

	install *string
	remove  *string
	options string

	// probe state: visited and required hold the number of the probe
	// (pool.gen) that set them, so that a new probe needs no reset.
	visited  uint64
	required uint64

	// key in pool.mods, and the pool's lists of modules since the last
	// release (see release)
	key       string
	nextFresh *module
	nextDeps  *module

	// The flags together, after the words: a module is allocated for
	// every name and dependency of every request (200 bytes with each
	// flag padded to a word, 160 so).
	hasAlias    bool
	depInit     bool
	builtin     tri
	installInit bool
	removeInit  bool
	optionsInit bool
	ignorecmd   bool
	// kept: the module outlives the probes of its request (see keep).
	kept bool
}

// pool interns modules for one request, like libkmod's per-context hash.
// libkmod frees a module when its last reference goes: between the probes
// of one request only the lookup results and their dependency lists stay
// (see release).
type pool struct {
	ctx  context.Context
	l    *Loader
	idx  *index.Set
	mods map[string]*module

	gen        uint64  // the current probe's number
	fresh      *module // modules created since the last release (nextFresh)
	depsLoaded *module // modules whose deps were parsed since then (nextDeps)
}

// add interns m under key.
func (p *pool) add(key string, m *module) {
	p.mods[key] = m
	m.key, m.nextFresh = key, p.fresh
	p.fresh = m
}

func (l *Loader) newPool(ctx context.Context) (*pool, error) {
	lg := l.log // not l: the indexes keep the function, and must not keep l
	idx, err := l.indexes(func(err error) { lg.indexDiag(ctx, err) })
	if err != nil {
		return nil, err
	}
	return &pool{ctx: ctx, l: l, idx: idx, mods: map[string]*module{}}, nil
}

// errorf logs a libkmod error message from origin.
func (p *pool) errorf(event, format string, args ...any) {
	p.l.log.errorf(p.ctx, event, format, args...)
}

// keep marks the modules that outlive the probes of a request: the
// lookup results and, as they are parsed, their dependency lists.
func (p *pool) keep(mods []*module) {
	for _, m := range mods {
		if m.kept {
			continue
		}
		m.kept = true
		p.keep(m.deps)
	}
}

// release drops every module that libkmod would have freed after a probe:
// all but the kept modules (see keep). The next probe creates them
// afresh, with fresh state. Only modules created since the last release
// can go, so a release costs what the probe created, not the pool's size.
func (p *pool) release() {
	for m := p.depsLoaded; m != nil; m = m.nextDeps {
		if m.kept {
			p.keep(m.deps)
		}
	}
	p.depsLoaded = nil
	for m := p.fresh; m != nil; m = m.nextFresh {
		if !m.kept && p.mods[m.key] == m {
			delete(p.mods, m.key)
		}
	}
	p.fresh = nil
}

// newFromName returns the module named name, normalized.
func (p *pool) newFromName(name string) *module {
	name = modname.Normalize(name)
	if m := p.mods[name]; m != nil {
		return m
	}
	m := &module{name: name}
	p.add(name, m)
	return m
}

// newFromAlias returns the module name reached through alias; it fails,
// as kmod does, when the two do not fit in PATH_MAX.
func (p *pool) newFromAlias(alias, name string) (*module, bool) {
	if len(name)+len(alias)+2 > pathMax {
		return nil, false
	}
	key := name + "\\" + alias
	if m := p.mods[key]; m != nil {
		return m, true
	}
	m := &module{name: name, alias: alias, hasAlias: true}
	p.add(key, m)
	return m, true
}

// newFromPath returns the module name whose file is path (absolute; name
// is modname.FromPath of it). It fails when the file does not exist, when
// the path has no file name (it ends in '/'), or when the module already
// has another path. A file name that starts with a dot makes a module
// with an empty name, as in libkmod.
func (p *pool) newFromPath(path, name string) (*module, error) {
	return p.internPath(path, name, p.l.statFile(path))
}

// internPath is newFromPath once the file's existence is known: statErr
// is statFile's answer for path.
func (p *pool) internPath(path, name string, statErr error) (*module, error) {
	if statErr != nil {
		return nil, statErr
	}
	if strings.HasSuffix(path, "/") {
		return nil, syscall.ENOENT
	}
	m := p.mods[name]
	switch {
	case m == nil:
		m = &module{name: name, path: path}
		p.add(name, m)
	case m.path == "":
		m.path = path
	case m.path != path:
		p.errorf(eventDifferent, "kmod_module '%s' already exists with different path: new-path='%s' old-path='%s'", name, path, m.path)
		return nil, syscall.EEXIST
	}
	m.builtin = triNo
	return m, nil
}

// isBuiltin reports whether m is in modules.builtin (or was found through
// a builtin index).
func (p *pool) isBuiltin(m *module) bool {
	if m.builtin == triUnknown {
		m.builtin = triNo
		if _, ok := p.idx.Get(index.Builtin).Lookup(m.name); ok {
			m.builtin = triYes
		}
	}
	return m.builtin == triYes
}

// installCommand returns the first install command whose pattern matches
// m's name, unless a lookup already set it.
func (p *pool) installCommand(m *module) (string, bool) {
	if !m.installInit {
		m.installInit = true
		m.install = p.l.conf.installFor(m.name)
	}
	if m.install == nil {
		return "", false
	}
	return *m.install, true
}

// public returns the exported view of m. It changes nothing in the pool:
// libkmod reads a module's dependency line, builtin state and commands
// only when a probe needs them, and so must the pool, for its messages
// and module state to match libkmod's.
func (p *pool) public(m *module) Module {
	mod := Module{Name: m.name, Alias: m.alias, Path: m.path}
	if mod.Path == "" && !m.depInit {
		if line, ok := p.idx.Get(index.Dep).Lookup(m.name); ok {
			mod.Path, _ = p.depPath(depFile(line))
		}
	}
	switch m.builtin {
	case triYes:
		mod.Builtin = true
	case triUnknown:
		_, mod.Builtin = p.idx.Get(index.Builtin).Lookup(m.name)
	}
	install, remove := m.install, m.remove
	if !m.installInit {
		install = p.l.conf.installFor(m.name)
	}
	if !m.removeInit {
		remove = p.l.conf.removeFor(m.name)
	}
	if install != nil {
		mod.InstallCommand = *install
	}
	if remove != nil {
		mod.RemoveCommand = *remove
	}
	return mod
}
