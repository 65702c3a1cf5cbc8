package modprobe

import (
	"os"
	"strings"

	"github.com/gokmod/modprobe/internal/fnmatch"
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

// pathMax is Linux's PATH_MAX; kmod refuses module keys that do not fit.
const pathMax = 4096

// tri is a lazily computed boolean.
type tri uint8

const (
	unknown tri = iota
	no
	yes
)

// module is libkmod's struct kmod_module: one object per name, or per
// name and alias, shared by every list that reaches it during a request.
type module struct {
	name     string
	alias    string
	hasAlias bool

	path    string
	depInit bool
	deps    []*module

	builtin tri

	installInit bool
	install     *string
	removeInit  bool
	remove      *string

	optionsInit bool
	options     string

	// probe state, reset at the start of each probe
	visited   bool
	required  bool
	ignorecmd bool
}

// pool interns modules for one request, like libkmod's per-context hash.
// libkmod frees a module when its last reference goes; within one modprobe
// request every module stays referenced, so a pool lives as long as the
// request.
type pool struct {
	l    *Loader
	idx  *index.Set
	mods map[string]*module
}

func (l *Loader) newPool() *pool {
	return &pool{l: l, idx: l.indexes(), mods: map[string]*module{}}
}

// newFromName returns the module named name, normalized.
func (p *pool) newFromName(name string) *module {
	name = modname.Normalize(name)
	if m := p.mods[name]; m != nil {
		return m
	}
	m := &module{name: name}
	p.mods[name] = m
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
	p.mods[key] = m
	return m, true
}

// newFromPath returns the module whose file is path (absolute). It fails
// when the file does not exist or the module already has another path.
func (p *pool) newFromPath(path string) (*module, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	name := modname.FromPath(path)
	m := p.mods[name]
	switch {
	case m == nil:
		m = &module{name: name, path: path}
		p.mods[name] = m
	case m.path == "":
		m.path = path
	case m.path != path:
		p.l.log.errorf(originDifferent, "kmod_module '%s' already exists with different path: new-path='%s' old-path='%s'", name, path, m.path)
		return nil, os.ErrExist
	}
	m.builtin = no
	return m, nil
}

// parseDepline sets m's path and dependencies from its modules.dep line.
// The line lists the whole dependency closure, dependents first; the
// dependencies are kept in load order (the reverse).
func (p *pool) parseDepline(m *module, line string) {
	if m.depInit {
		return
	}
	m.depInit = true
	file, rest, ok := strings.Cut(line, ":")
	if !ok {
		return
	}
	dir := p.l.moduleDir + "/"
	join := func(s string) string {
		if strings.HasPrefix(s, "/") {
			return s
		}
		return dir + s
	}
	if m.path == "" {
		m.path = join(file)
	}
	var deps []*module
	for _, f := range strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == '\t' }) {
		d, err := p.newFromPath(join(f))
		if err != nil {
			p.l.log.errorf(originDepline, "could not use dependency %s of %s: %v", join(f), m.name, err)
			m.depInit = false
			return
		}
		deps = append(deps, d)
	}
	for i, j := 0, len(deps)-1; i < j; i, j = i+1, j-1 {
		deps[i], deps[j] = deps[j], deps[i]
	}
	m.deps = deps
}

// dependencies returns m's modules.dep dependencies in load order.
func (p *pool) dependencies(m *module) []*module {
	if !m.depInit {
		if line, ok := p.idx.Get(index.Dep).Lookup(m.name); ok {
			p.parseDepline(m, line)
		}
	}
	return m.deps
}

// pathOf returns m's file, looking it up in modules.dep if needed.
func (p *pool) pathOf(m *module) string {
	if m.path != "" || m.depInit {
		return m.path
	}
	if line, ok := p.idx.Get(index.Dep).Lookup(m.name); ok {
		p.parseDepline(m, line)
	}
	return m.path
}

// isBuiltin reports whether m is in modules.builtin (or was found through
// a builtin index).
func (p *pool) isBuiltin(m *module) bool {
	if m.builtin == unknown {
		m.builtin = no
		if _, ok := p.idx.Get(index.Builtin).Lookup(m.name); ok {
			m.builtin = yes
		}
	}
	return m.builtin == yes
}

// installCommand returns the first install command whose pattern matches
// m's name.
func (p *pool) installCommand(m *module) (string, bool) {
	if !m.installInit {
		m.installInit = true
		for i := range p.l.cfg.Install {
			c := &p.l.cfg.Install[i]
			if fnmatch.Match(c.Module, m.name) {
				m.install = &c.Command
				break
			}
		}
	}
	if m.install == nil {
		return "", false
	}
	return *m.install, true
}

// removeCommand returns the first remove command whose pattern matches m's
// name.
func (p *pool) removeCommand(m *module) (string, bool) {
	if !m.removeInit {
		m.removeInit = true
		for i := range p.l.cfg.Remove {
			c := &p.l.cfg.Remove[i]
			if fnmatch.Match(c.Module, m.name) {
				m.remove = &c.Command
				break
			}
		}
	}
	if m.remove == nil {
		return "", false
	}
	return *m.remove, true
}

// lookup resolves name through kmod's lookup chain. It returns nil when
// nothing matches and ErrBadName when name cannot be normalized.
func (p *pool) lookup(name string) ([]*module, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return nil, ErrBadName
	}
	alias, err := modname.Alias(name)
	if err != nil {
		return nil, ErrBadName
	}
	steps := []func(string) ([]*module, error){
		p.fromConfig,
		p.fromModdep,
		p.fromSymbols,
		p.fromCommands,
		p.fromAliases,
		p.fromBuiltin,
		p.fromBuiltinAlias,
	}
	for _, step := range steps {
		mods, err := step(alias)
		if err != nil {
			return nil, err
		}
		if len(mods) > 0 {
			return mods, nil
		}
	}
	return nil, nil
}

func (p *pool) fromConfig(name string) ([]*module, error) {
	var mods []*module
	for i := range p.l.cfg.Aliases {
		a := &p.l.cfg.Aliases[i]
		if !fnmatch.Match(a.Pattern, name) {
			continue
		}
		m, ok := p.newFromAlias(a.Pattern, a.Module)
		if !ok {
			p.l.log.errorf(originAliasTooLong, "Could not create module for alias=%s modname=%s: File name too long", name, a.Module)
			return nil, ErrBadName
		}
		mods = append(mods, m)
	}
	return mods, nil
}

func (p *pool) fromModdep(name string) ([]*module, error) {
	if strings.IndexByte(name, ':') >= 0 {
		return nil, nil
	}
	line, ok := p.idx.Get(index.Dep).Lookup(name)
	if !ok {
		return nil, nil
	}
	m := p.newFromName(name)
	p.parseDepline(m, line)
	return []*module{m}, nil
}

func (p *pool) fromIndex(k index.Kind, name string, builtin bool) ([]*module, error) {
	vals := p.idx.Get(k).Search(name)
	mods := make([]*module, 0, len(vals))
	for _, v := range vals {
		m, ok := p.newFromAlias(name, v.Value)
		if !ok {
			p.l.log.errorf(originIndexTooLong, "Could not create module for alias=%s realname=%s: File name too long", name, v.Value)
			return nil, ErrBadName
		}
		if builtin {
			m.builtin = yes
		}
		mods = append(mods, m)
	}
	return mods, nil
}

func (p *pool) fromSymbols(name string) ([]*module, error) {
	if !strings.HasPrefix(name, "symbol:") {
		return nil, nil
	}
	return p.fromIndex(index.Symbols, name, false)
}

func (p *pool) fromCommands(name string) ([]*module, error) {
	for i := range p.l.cfg.Install {
		c := &p.l.cfg.Install[i]
		if c.Module == name {
			m := p.newFromName(c.Module)
			m.installInit, m.install = true, &c.Command
			return []*module{m}, nil
		}
	}
	for i := range p.l.cfg.Remove {
		c := &p.l.cfg.Remove[i]
		if c.Module == name {
			m := p.newFromName(c.Module)
			m.removeInit, m.remove = true, &c.Command
			return []*module{m}, nil
		}
	}
	return nil, nil
}

func (p *pool) fromAliases(name string) ([]*module, error) {
	return p.fromIndex(index.Alias, name, false)
}

func (p *pool) fromBuiltin(name string) ([]*module, error) {
	if _, ok := p.idx.Get(index.Builtin).Lookup(name); !ok {
		return nil, nil
	}
	m := p.newFromName(name)
	m.builtin = yes
	return []*module{m}, nil
}

func (p *pool) fromBuiltinAlias(name string) ([]*module, error) {
	return p.fromIndex(index.BuiltinAlias, name, true)
}

// public returns the exported view of m.
func (p *pool) public(m *module) Module {
	mod := Module{Name: m.name, Alias: m.alias, Path: p.pathOf(m), Builtin: p.isBuiltin(m)}
	mod.InstallCommand, _ = p.installCommand(m)
	mod.RemoveCommand, _ = p.removeCommand(m)
	return mod
}

// Lookup resolves name the way modprobe does and returns every module it
// stands for, in kmod's order. It returns a *ModuleError wrapping
// ErrNotFound when nothing matches and ErrBadName for a name kmod cannot
// look up.
func (l *Loader) Lookup(name string) ([]Module, error) {
	p := l.newPool()
	mods, err := p.lookup(name)
	if err != nil {
		return nil, errf("lookup", name, "", err)
	}
	if len(mods) == 0 {
		return nil, l.notFound(name)
	}
	out := make([]Module, len(mods))
	for i, m := range mods {
		out[i] = p.public(m)
	}
	return out, nil
}

func (l *Loader) notFound(name string) error {
	return errf("lookup", name, l.moduleDir, ErrNotFound)
}
