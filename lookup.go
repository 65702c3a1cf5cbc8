package modprobe

import (
	"context"
	"strings"

	"github.com/gokmod/modprobe/internal/index"
	"github.com/gokmod/modprobe/internal/modname"
)

// lookupSteps is kmod's lookup chain, in order: the first step that finds
// something wins.
var lookupSteps = [...]func(*pool, string) ([]*module, error){
	(*pool).fromConfig,
	(*pool).fromModdep,
	(*pool).fromSymbols,
	(*pool).fromCommands,
	(*pool).fromAliases,
	(*pool).fromBuiltin,
	(*pool).fromBuiltinAlias,
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
	for _, step := range lookupSteps {
		mods, err := step(p, alias)
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
	for _, i := range p.l.conf.aliasesFor(name) {
		a := &p.l.cfg.Aliases[i]
		m, ok := p.newFromAlias(a.Pattern, a.Module)
		if !ok {
			p.errorf(eventAliasTooLong, "Could not create module for alias=%s modname=%s: File name too long", name, a.Module)
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
			p.errorf(eventIndexTooLong, "Could not create module for alias=%s realname=%s: File name too long", name, v.Value)
			return nil, ErrBadName
		}
		if builtin {
			m.builtin = triYes
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

// fromCommands finds a module by an install command for exactly its name,
// or else a remove command, which sets that command on it.
func (p *pool) fromCommands(name string) ([]*module, error) {
	if cmd := p.l.conf.exactCommand(p.l.cfg.Install, name); cmd != nil {
		m := p.newFromName(name)
		m.installInit, m.install = true, cmd
		return []*module{m}, nil
	}
	if cmd := p.l.conf.exactCommand(p.l.cfg.Remove, name); cmd != nil {
		m := p.newFromName(name)
		m.removeInit, m.remove = true, cmd
		return []*module{m}, nil
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
	m.builtin = triYes
	return []*module{m}, nil
}

func (p *pool) fromBuiltinAlias(name string) ([]*module, error) {
	return p.fromIndex(index.BuiltinAlias, name, true)
}

// resolve starts a request for name: a pool and the modules name stands
// for, or an error wrapped for op.
func (l *Loader) resolve(ctx context.Context, op Op, name string) (*pool, []*module, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, moduleErr(op, name, "", err)
	}
	p, err := l.newPool(ctx)
	if err != nil {
		return nil, nil, moduleErr(op, name, "", err)
	}
	mods, err := p.lookup(name)
	if err != nil {
		return nil, nil, moduleErr(op, name, "", err)
	}
	if len(mods) == 0 {
		return nil, nil, moduleErr(op, name, l.moduleDir, ErrNotFound)
	}
	return p, mods, nil
}

// Lookup resolves name the way modprobe does and returns every module it
// stands for, in kmod's order. It returns a *ModuleError wrapping
// ErrNotFound when nothing matches and ErrBadName for a name kmod cannot
// look up.
func (l *Loader) Lookup(ctx context.Context, name string) ([]Module, error) {
	defer l.keepAlive()
	p, mods, err := l.resolve(ctx, OpLookup, name)
	if err != nil {
		return nil, err
	}
	out := make([]Module, len(mods))
	for i, m := range mods {
		out[i] = p.public(m)
	}
	return out, nil
}
