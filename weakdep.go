package modprobe

import (
	"context"

	"github.com/gokmod/modprobe/internal/modname"
)

// Weakdeps returns the modules the weak dependencies of the module called
// name stand for, as libkmod's kmod_module_get_weakdeps finds them: the
// first weakdep directive whose pattern matches the module's name (from
// modprobe.d or the module directory's modules.weakdep, which depmod
// writes from the modules' weakdep= entries), each of its names resolved
// through modprobe's lookup. A name that resolves to nothing is left out;
// one that cannot be looked up is logged, as for a softdep. kmod never loads weak dependencies; they
// tell an image builder what else to ship (see package closure). With
// CompatKmod30 there are none: kmod 30 has no weakdep directive.
//
// The result is empty, without error, for a module with no weakdep line.
// It returns the context's error when ctx is done.
func (l *Loader) Weakdeps(ctx context.Context, name string) ([]Module, error) {
	defer l.keepAlive()
	if err := ctx.Err(); err != nil {
		return nil, moduleErr(OpLookup, name, "", err)
	}
	wd := l.conf.weakdepFor(modname.Normalize(name))
	if wd == nil {
		return nil, nil
	}
	p, err := l.newPool(ctx)
	if err != nil {
		return nil, moduleErr(OpLookup, name, "", err)
	}
	var out []Module
	for _, n := range wd.Deps {
		mods, err := p.lookup(n)
		if err != nil {
			p.errorf(eventSoftdep, "failed to lookup dependency '%s', continuing anyway.", n)
			continue
		}
		for _, m := range mods {
			out = append(out, p.public(m))
		}
	}
	return out, nil
}
