package modprobe

import (
	"log/slog"
	"slices"
	"strings"

	"github.com/gokmod/modprobe/internal/modname"

	"github.com/gokmod/modprobe/internal/index"
)

// depFile returns the module file a modules.dep line names.
func depFile(line string) string {
	file, _, _ := strings.Cut(line, ":")
	return file
}

// depPath joins a path from modules.dep to the module directory as libkmod
// does: absolute paths (external modules) are kept, and a path that would
// not fit in PATH_MAX is refused.
func (p *pool) depPath(rel string) (string, bool) {
	if strings.HasPrefix(rel, "/") {
		return rel, true
	}
	dir := p.l.moduleDir
	if len(dir)+1+len(rel)+1 >= pathMax {
		return "", false
	}
	return dir + "/" + rel, true
}

// depEntry is what a Loader remembers of a modules.dep entry.
type depEntry struct {
	path string // depPath's answer
	err  error  // statFile's
}

// depEntry returns the absolute path of the modules.dep entry rel, as
// depPath does, and statFile's answer for it, remembered by the Loader
// (see Loader.depFiles): no path is built again for a dependency seen
// before.
func (p *pool) depEntry(rel string) (path string, statErr error, ok bool) {
	if v, hit := p.l.depFiles.Load(rel); hit {
		f := v.(*depEntry)
		return f.path, f.err, true
	}
	path, ok = p.depPath(rel)
	if !ok {
		return "", nil, false
	}
	statErr = p.l.statFile(path)
	p.l.depFiles.Store(strings.Clone(rel), &depEntry{path: path, err: statErr})
	return path, statErr, true
}

// knownDep returns the module name already found at the modules.dep
// entry rel (a line naming a dependency many times, or a dependency of
// several lines), without building its path or looking at the file again;
// nil when there is none.
func (p *pool) knownDep(name, rel string) *module {
	m := p.mods[name]
	if m == nil || m.path == "" {
		return nil
	}
	if strings.HasPrefix(rel, "/") {
		if m.path != rel {
			return nil
		}
	} else if dir := p.l.moduleDir; len(m.path) != len(dir)+1+len(rel) ||
		!strings.HasPrefix(m.path, dir) || m.path[len(dir)] != '/' || !strings.HasSuffix(m.path, rel) {
		return nil
	}
	m.builtin = triNo
	return m
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
	if !ok || len(p.l.moduleDir)+2 >= pathMax {
		return
	}
	if m.path == "" {
		path, ok := p.depPath(file)
		if !ok {
			return
		}
		m.path = path
	}
	deps := make([]*module, 0, strings.Count(rest, " ")+1)
	for rest != "" {
		// strings.IndexAny(rest, " \t") without building its set: the
		// first space, or a tab before it.
		f := rest
		i := strings.IndexByte(f, ' ')
		if i >= 0 {
			f = f[:i]
		}
		if j := strings.IndexByte(f, '\t'); j >= 0 {
			i, f = j, f[:j]
		}
		if i >= 0 {
			rest = rest[i+1:]
		} else {
			rest = ""
		}
		if f == "" {
			continue
		}
		name := modname.FromPath(f)
		if d := p.knownDep(name, f); d != nil {
			deps = append(deps, d)
			continue
		}
		path, statErr, ok := p.depEntry(f)
		if !ok {
			p.errorf(eventDeplineJoin, "could not join path '%s' and '%s'.", p.l.moduleDir, f)
			m.depInit = false
			return
		}
		d, err := p.internPath(path, name, statErr)
		if err != nil {
			p.l.log.log(p.ctx, slog.LevelError, eventDepline, "dependency in modules.dep unusable",
				slog.String(AttrPath, path), slog.Any(AttrError, err))
			m.depInit = false
			return
		}
		deps = append(deps, d)
	}
	slices.Reverse(deps)
	m.deps = deps
	m.nextDeps, p.depsLoaded = p.depsLoaded, m
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
