package preflight

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

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
// not load is a verdict with problems.
func Check(ctx context.Context, opts Options, paths ...string) (*Report, error) {
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
	if t.BaseDir != "" {
		abs, err := filepath.Abs(t.BaseDir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %w", t.BaseDir, ErrTarget, err)
		}
		t.BaseDir = abs
	}
	cands, err := expand(paths)
	if err != nil {
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
	for _, p := range targetFiles {
		name := modname.FromPath(p)
		targetNames[name] = true
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			real = p
		}
		if c := byReal[real]; c != nil {
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

	dopts := depmod.Options{BaseDir: t.BaseDir, ModuleDirectory: t.ModuleDirectory, Release: t.Release, Modules: files, Jobs: opts.Jobs}
	missing, err := t.symbolSources(&dopts)
	if err != nil {
		return nil, err
	}
	if !facts.configKnown {
		missing = append(missing, "no boot/config-"+t.Release+": CONFIG_MODULE_FORCE_LOAD taken as unset")
	}
	var exports map[string]export
	if t.Symvers != "" {
		if exports, err = readExports(t.Symvers); err != nil {
			return nil, err
		}
	}
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

	ck := &checker{opts: opts, facts: facts, exports: exports, kernelCRC: kernelCRC, kernelNames: dopts.Symvers != "" || dopts.SystemMap != "", byName: byName, byPath: byPath, targetNames: targetNames}
	if err := ck.checkAll(ctx, cands); err != nil {
		return nil, err
	}
	ck.dependencies(cands)

	rep := &Report{Missing: missing}
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
