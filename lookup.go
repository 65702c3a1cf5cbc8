package modprobe

import (
	"os"
	"slices"
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

// release drops every module that libkmod would have freed after a probe:
// all but the lookup results and the dependencies their lists hold. The
// next probe creates them afresh, with fresh state.
func (p *pool) release(keep []*module) {
	alive := map[*module]bool{}
	var mark func(m *module)
	mark = func(m *module) {
		if alive[m] {
			return
		}
		alive[m] = true
		for _, d := range m.deps {
			mark(d)
		}
	}
	for _, m := range keep {
		mark(m)
	}
	for k, m := range p.mods {
		if !alive[m] {
			delete(p.mods, k)
		}
	}
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
	if err := p.l.statFile(path); err != nil {
		return nil, err
	}
	name := modname.FromPath(path)
	if name == "" {
		return nil, os.ErrNotExist
	}
	m := p.mods[name]
	switch {
	case m == nil:
		m = &module{name: name, path: path}
		p.mods[name] = m
	case m.path == "":
		m.path = path
	case m.path != path:
		p.l.log.errorf(originDifferent, "kmod_module '%s' already exists with different path: new-path='%s' old-path='%s'", name, path, m.path)
		return nil, syscall.EEXIST
	}
	m.builtin = no
	return m, nil
}

// parseDepline sets m's path and dependencies from its modules.dep line,
// as libkmod's kmod_module_parse_depline does. The line lists the whole
// dependency closure, dependents first; the dependencies are kept in load
// order (the reverse). Paths that do not fit in PATH_MAX are dropped the
// way libkmod drops them; a dependency whose file is missing makes the
// parse fail, and it is tried again the next time it is needed.
func (p *pool) parseDepline(m *module, line string) {
	if m.depInit {
		return
	}
	m.depInit = true
	file, rest, ok := strings.Cut(line, ":")
	if !ok {
		return
	}
	dir := p.l.moduleDir
	if len(dir)+2 >= pathMax {
		return
	}
	dir += "/"
	join := func(s string) (string, bool) {
		if strings.HasPrefix(s, "/") {
			return s, true
		}
		if len(dir)+len(s)+1 >= pathMax {
			return "", false
		}
		return dir + s, true
	}
	if m.path == "" {
		path, ok := join(file)
		if !ok {
			return
		}
		m.path = path
	}
	deps := make([]*module, 0, strings.Count(rest, " ")+1)
	for rest != "" {
		var f string
		if i := strings.IndexAny(rest, " \t"); i >= 0 {
			f, rest = rest[:i], rest[i+1:]
		} else {
			f, rest = rest, ""
		}
		if f == "" {
			continue
		}
		path, ok := join(f)
		if !ok {
			p.l.log.errorf(originDeplineJoin, "could not join path '%s' and '%s'.", p.l.moduleDir, f)
			m.depInit = false
			return
		}
		d, err := p.newFromPath(path)
		if err != nil {
			p.l.log.errorf(originDepline, "ctx=%p path=%s error=%s", p.l, path, strerror(err))
			m.depInit = false
			return
		}
		deps = append(deps, d)
	}
	slices.Reverse(deps)
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
		if i := p.l.conf.install.first(m.name); i >= 0 {
			m.install = &p.l.cfg.Install[i].Command
		}
	}
	if m.install == nil {
		return "", false
	}
	return *m.install, true
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
	failed := false
	p.l.conf.aliases.all(name, func(i int) {
		if failed {
			return
		}
		a := &p.l.cfg.Aliases[i]
		m, ok := p.newFromAlias(a.Pattern, a.Module)
		if !ok {
			p.l.log.errorf(originAliasTooLong, "Could not create module for alias=%s modname=%s: File name too long", name, a.Module)
			failed = true
			return
		}
		mods = append(mods, m)
	})
	if failed {
		return nil, ErrBadName
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

// public returns the exported view of m. It changes nothing in the pool:
// libkmod reads a module's dependency line, builtin state and commands
// only when a probe needs them, and so must the pool, for its messages
// and module state to match libkmod's.
func (p *pool) public(m *module) Module {
	mod := Module{Name: m.name, Alias: m.alias, Path: m.path}
	if mod.Path == "" && !m.depInit {
		if line, ok := p.idx.Get(index.Dep).Lookup(m.name); ok {
			mod.Path = p.peekPath(line)
		}
	}
	switch m.builtin {
	case yes:
		mod.Builtin = true
	case unknown:
		_, mod.Builtin = p.idx.Get(index.Builtin).Lookup(m.name)
	}
	if m.installInit {
		if m.install != nil {
			mod.InstallCommand = *m.install
		}
	} else if i := p.l.conf.install.first(m.name); i >= 0 {
		mod.InstallCommand = p.l.cfg.Install[i].Command
	}
	if m.removeInit {
		if m.remove != nil {
			mod.RemoveCommand = *m.remove
		}
	} else if i := p.l.conf.remove.first(m.name); i >= 0 {
		mod.RemoveCommand = p.l.cfg.Remove[i].Command
	}
	return mod
}

// peekPath returns the module file a modules.dep line names, as
// parseDepline would set it.
func (p *pool) peekPath(line string) string {
	file, _, ok := strings.Cut(line, ":")
	dir := p.l.moduleDir + "/"
	switch {
	case !ok || len(dir)+1 >= pathMax:
		return ""
	case strings.HasPrefix(file, "/"):
		return file
	case len(dir)+len(file)+1 >= pathMax:
		return ""
	}
	return dir + file
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
