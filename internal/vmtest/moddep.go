package vmtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gokmod/modprobe/internal/testmod"
)

// ModuleClosure returns the paths, relative to the module directory
// ROOT/lib/modules/RELEASE, of the named modules and of every module they
// need to load as they do on the host, sorted: the dependencies the
// tree's text modules.dep lists and, recursively, the modules that its
// modules.softdep names before or after them (a softdep name that is no
// module is looked up as an exact alias in modules.alias; one that
// matches nothing is left out, as modprobe skips it). Names match with
// '-' and '_' equivalent; a name modules.dep does not list is an error.
func ModuleClosure(root, release string, names []string) ([]string, error) {
	dir := testmod.ModuleDir(root, release)
	var idx moduleIndex
	for _, f := range []struct {
		name     string
		optional bool
		parse    func(io.Reader, string) error
	}{
		{"modules.dep", false, idx.parseDep},
		{"modules.softdep", true, idx.parseSoftdep},
		{"modules.alias", true, idx.parseAlias},
	} {
		p := filepath.Join(dir, f.name)
		// Not an input: the indexes of the Debian tree the suite unpacked.
		r, err := os.Open(p)
		if f.optional && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("vmtest: %w", err)
		}
		err = f.parse(r, p)
		r.Close()
		if err != nil {
			return nil, err
		}
	}
	return idx.closure(names, filepath.Join(dir, "modules.dep"))
}

// moduleIndex holds what ModuleClosure reads of a tree's text indexes.
type moduleIndex struct {
	paths   map[string]string   // module name -> path
	deps    map[string][]string // path -> dependency paths
	softdep map[string][]string // module name -> pre and post softdep names
	alias   map[string][]string // alias -> module names
}

// lines calls fn with every non-blank, non-comment line of r and its
// number.
func lines(r io.Reader, file string, fn func(line int, text string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if err := fn(n, text); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("vmtest: %s: %w", file, err)
	}
	return nil
}

// parseDep reads modules.dep ("PATH: DEP...").
func (x *moduleIndex) parseDep(r io.Reader, file string) error {
	x.paths = make(map[string]string)
	x.deps = make(map[string][]string)
	return lines(r, file, func(line int, text string) error {
		mod, rest, ok := strings.Cut(text, ":")
		if !ok || mod == "" {
			return fmt.Errorf("vmtest: %s:%d: malformed line %q", file, line, text)
		}
		if n := testmod.ModName(mod); x.paths[n] == "" {
			x.paths[n] = mod
		}
		x.deps[mod] = strings.Fields(rest)
		return nil
	})
}

// parseSoftdep reads modules.softdep ("softdep MOD pre: A... post: B...").
func (x *moduleIndex) parseSoftdep(r io.Reader, file string) error {
	x.softdep = make(map[string][]string)
	return lines(r, file, func(line int, text string) error {
		f := strings.Fields(text)
		if len(f) < 2 || f[0] != "softdep" {
			return nil
		}
		mod := strings.ReplaceAll(f[1], "-", "_")
		for _, w := range f[2:] {
			if w != "pre:" && w != "post:" {
				x.softdep[mod] = append(x.softdep[mod], w)
			}
		}
		return nil
	})
}

// parseAlias reads modules.alias ("alias ALIAS MODULE").
func (x *moduleIndex) parseAlias(r io.Reader, file string) error {
	x.alias = make(map[string][]string)
	return lines(r, file, func(line int, text string) error {
		f := strings.Fields(text)
		if len(f) == 3 && f[0] == "alias" {
			x.alias[f[1]] = append(x.alias[f[1]], f[2])
		}
		return nil
	})
}

// closure returns the sorted paths names need; file names modules.dep in
// errors.
func (x *moduleIndex) closure(names []string, file string) ([]string, error) {
	seen := make(map[string]bool)
	var visit func(p string)
	visitName := func(name string) {
		n := strings.ReplaceAll(name, "-", "_")
		if p, ok := x.paths[n]; ok {
			visit(p)
			return
		}
		for _, m := range x.alias[name] {
			if p, ok := x.paths[strings.ReplaceAll(m, "-", "_")]; ok {
				visit(p)
			}
		}
	}
	visit = func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		for _, d := range x.deps[p] {
			visit(d)
		}
		for _, s := range x.softdep[testmod.ModName(p)] {
			visitName(s)
		}
	}
	for _, n := range names {
		p, ok := x.paths[strings.ReplaceAll(n, "-", "_")]
		if !ok {
			return nil, fmt.Errorf("vmtest: %s: no module %q", file, n)
		}
		visit(p)
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}
