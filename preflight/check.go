package preflight

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/depmod"
	"github.com/gokmod/modprobe/internal/modname"
)

// candidate is a module file being checked.
type candidate struct {
	path, name string
	real       string // path with symlinks resolved: the target's own file when it is one
	res        *depmod.Resolved
	verdict    Verdict
}

// Check checks the module files and directories of module files in
// paths against opts.Target and returns a verdict for each module. An
// error is returned only when the check cannot be made (an unreadable
// path or target, two modules of one name, ctx done); a module that will
// not load is a verdict with problems. It is Open and Checker.Check: a
// program checking several sets of modules against one target opens it
// once.
func Check(ctx context.Context, opts Options, paths ...string) (*Report, error) {
	c, err := Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	return c.Check(ctx, paths...)
}

// Checker checks modules against one target, which Open read: its tree's
// files, what they say of the kernel, its Module.symvers. The target's
// modules are read by the first Check and kept (in Options.Cache, or a
// cache of the Checker's own) for the next, each read again only when its
// file changed; a module added to the tree after Open is not seen. A
// Checker is safe for concurrent use.
type Checker struct {
	opts        Options
	targetFiles []string
	targetReal  []string // targetFiles with symlinks resolved
	facts       kernelFacts
	exports     map[string]export
	dopts       depmod.Options // the tree and the kernel's symbols, less the modules
	missing     []string
}

// Open reads the target of opts for Checker.Check. The errors are Check's
// about the target (ErrTarget).
func Open(ctx context.Context, opts Options) (*Checker, error) {
	t := opts.Target
	if t.Release == "" {
		return nil, fmt.Errorf("%w: no release given", ErrTarget)
	}
	if opts.MaxModuleSize == 0 {
		opts.MaxModuleSize = modprobe.DefaultMaxModuleSize
	}
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.GOMAXPROCS(0)
	}
	if opts.Cache == nil {
		opts.Cache = &depmod.ModuleCache{}
	}
	if t.BaseDir != "" {
		abs, err := filepath.Abs(t.BaseDir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %w", t.BaseDir, ErrTarget, err)
		}
		t.BaseDir = abs
	}
	opts.Target = t
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	targetFiles, err := targetModules(t.dir())
	if err != nil {
		return nil, err
	}
	facts, err := t.readFacts(targetFiles, opts.MaxModuleSize)
	if err != nil {
		return nil, err
	}
	c := &Checker{opts: opts, targetFiles: targetFiles, facts: facts}
	for _, p := range targetFiles {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			real = p
		}
		c.targetReal = append(c.targetReal, real)
	}
	c.dopts = depmod.Options{BaseDir: t.BaseDir, ModuleDirectory: t.ModuleDirectory, Release: t.Release, Jobs: opts.Jobs, Cache: opts.Cache}
	if c.missing, err = t.symbolSources(&c.dopts); err != nil {
		return nil, err
	}
	if !facts.configKnown {
		c.missing = append(c.missing, "no boot/config-"+t.Release+": CONFIG_MODULE_FORCE_LOAD taken as unset")
	}
	if t.Symvers != "" {
		if c.exports, err = readExports(t.Symvers); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Check is the package's Check against the Checker's target.
func (ck *Checker) Check(ctx context.Context, paths ...string) (*Report, error) {
	t, opts := ck.opts.Target, ck.opts
	cands, err := expand(paths)
	if err != nil {
		return nil, err
	}

	// The tree the candidates land in: the target's modules, less those
	// a candidate of the same name replaces; a candidate that is the
	// target's own file stays the target's.
	byName := map[string]*candidate{}
	byReal := map[string]*candidate{}
	for _, c := range cands {
		if o := byName[c.name]; o != nil {
			return nil, fmt.Errorf("%s and %s: %w %s", o.path, c.path, ErrSameName, c.name)
		}
		byName[c.name] = c
		byReal[c.real] = c
	}
	var files, replaced []string
	targetNames := map[string]bool{}
	own := map[string]bool{} // the target's files among the candidates, by path given
	for i, p := range ck.targetFiles {
		name := modname.FromPath(p)
		targetNames[name] = true
		if c := byReal[ck.targetReal[i]]; c != nil {
			own[c.path] = true
			continue
		}
		if byName[name] == nil {
			files = append(files, p)
		} else {
			replaced = append(replaced, p)
		}
	}
	for _, c := range cands {
		files = append(files, c.path)
	}

	dopts := ck.dopts
	dopts.Modules = files
	resolved, err := depmod.Resolve(ctx, dopts)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", t.dir(), err)
	}

	byPath := map[string]*depmod.Resolved{}
	for i := range resolved {
		byPath[resolved[i].Path] = &resolved[i]
	}
	kernelCRC := kernelCRCs(resolved, byName, own, replaced, opts.MaxModuleSize)
	for _, c := range cands {
		c.res = byPath[c.path]
	}

	mc := &moduleChecker{opts: opts, facts: ck.facts, exports: ck.exports, kernelCRC: kernelCRC, kernelNames: dopts.Symvers != "" || dopts.SystemMap != "", byName: byName, byPath: byPath, targetNames: targetNames}
	if err := mc.checkAll(ctx, cands); err != nil {
		return nil, err
	}
	mc.dependencies(cands)

	rep := &Report{Missing: slices.Clone(ck.missing)}
	for _, c := range cands {
		rep.Verdicts = append(rep.Verdicts, c.verdict)
	}
	return rep, nil
}

// expand turns the paths given into candidates: files as they are,
// directories walked for module files in lexical order.
func expand(paths []string) ([]*candidate, error) {
	var out []*candidate
	add := func(p string) error {
		abs, err := filepath.Abs(p)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, &candidate{path: abs, name: modname.FromPath(abs), real: real})
		return nil
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			if err := add(p); err != nil {
				return nil, err
			}
			continue
		}
		err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && depmod.IsModuleFile(d.Name()) {
				return add(q)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
