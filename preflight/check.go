package preflight

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/depmod"
	"github.com/gokmod/modprobe/internal/elfmod"
	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/modfile"
	"github.com/gokmod/modprobe/internal/modname"
	"github.com/gokmod/modprobe/sign"
)

// Options say what to check the modules against.
type Options struct {
	// Target is the kernel the modules are to load on.
	Target Target
	// Certificates, if set, are the keys the target trusts: a module
	// whose signature does not verify against them is refused, as a
	// kernel enforcing signatures refuses it. Nil skips the check.
	Certificates []*x509.Certificate
	// MaxModuleSize bounds a decompressed module;
	// 0 is modprobe.DefaultMaxModuleSize.
	MaxModuleSize int64
	// Jobs is how many modules are read at once; 0 is
	// runtime.GOMAXPROCS(0).
	Jobs int
}

// Report is the answer for every module checked.
type Report struct {
	// Verdicts are the modules, in the order they were given (a
	// directory's modules in lexical order).
	Verdicts []Verdict
	// Missing says which of the target's facts were not available, and
	// what went unchecked for want of them.
	Missing []string
}

// Verdict is the answer for one module.
type Verdict struct {
	// Module is the file; Name the module name.
	Module, Name string
	// Problems are the reasons it will not load, in the order the
	// kernel meets them (its dependencies' first, as modprobe loads
	// those first); none when it loads.
	Problems []*Problem
	// Deps are the module files to load before it, in the order to
	// load them (insmod order): its dependencies, from the modules
	// checked or the target's tree.
	Deps []string
	// Unchecked are the symbols whose presence or CRC the target's
	// facts could not settle (see Report.Missing).
	Unchecked []string
	// Tainted says why the kernel will load it only by forcing it (a
	// module without vermagic or __versions), or "".
	Tainted string
}

// Loads reports whether the module will load: it has no problem.
func (v *Verdict) Loads() bool { return len(v.Problems) == 0 }

// Problems returns every module's problems, module by module.
func (r *Report) Problems() []*Problem {
	var out []*Problem
	for i := range r.Verdicts {
		out = append(out, r.Verdicts[i].Problems...)
	}
	return out
}

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

// symbolSources sets where depmod reads the kernel's symbols from:
// Module.symvers, else a System.map that names exports (the given one or
// BaseDir/boot/System.map-Release). It returns what is missing.
func (t Target) symbolSources(dopts *depmod.Options) ([]string, error) {
	var missing []string
	switch {
	case t.Symvers != "":
		dopts.Symvers = t.Symvers
	case t.SystemMap != "":
		dopts.SystemMap = t.SystemMap
	default:
		dopts.SystemMap = t.bootFile("System.map")
	}
	if dopts.Symvers == "" {
		missing = append(missing, "no Module.symvers: the CRCs of kernel symbols come from the target's own modules' __versions; kernel symbols none of them imports are unchecked")
	}
	if dopts.SystemMap != "" {
		ok, err := holdsExports(dopts.SystemMap)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTarget, err)
		}
		if !ok {
			missing = append(missing, dopts.SystemMap+" names no exported symbol (Debian ships a placeholder): ignored")
			dopts.SystemMap = ""
		}
	}
	if dopts.Symvers == "" && dopts.SystemMap == "" {
		missing = append(missing, "no System.map: which symbols the kernel exports is unknown; imports no module provides are unchecked")
	}
	return missing, nil
}

// kernelCRCs returns the CRCs of the kernel's symbols as the target's own
// modules record them in __versions: those depmod read (the candidates
// that are the target's own files among them) and those a candidate
// replaces.
func kernelCRCs(resolved []depmod.Resolved, byName map[string]*candidate, own map[string]bool, replaced []string, maxSize int64) map[string]uint64 {
	crcs := map[string]uint64{}
	for _, r := range resolved {
		if c := byName[r.Name]; c != nil && !own[c.path] {
			continue
		}
		for _, imp := range r.Imports {
			if imp.Owner == "" && (imp.CRC != 0 || imp.Name == "module_layout") {
				crcs[imp.Name] = imp.CRC
			}
		}
	}
	for _, p := range replaced {
		for _, s := range versionsOf(p, maxSize) {
			if _, ok := crcs[s.Name]; !ok {
				crcs[s.Name] = s.CRC
			}
		}
	}
	return crcs
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

// readImage reads a module file and returns its ELF image.
func readImage(path string, maxSize int64) ([]byte, error) {
	data, err := fileio.ReadInput(path, maxSize)
	if err != nil {
		return nil, err
	}
	return modfile.DecompressBytes(data, maxSize)
}

// checker holds what the checks of every module share.
type checker struct {
	opts        Options
	facts       kernelFacts
	kernelCRC   map[string]uint64
	exports     map[string]export // Module.symvers's GPL-only flags and namespaces
	kernelNames bool              // the kernel's exports are known (Module.symvers or System.map)
	byName      map[string]*candidate
	byPath      map[string]*depmod.Resolved
	targetNames map[string]bool
}

// checkAll makes each module's own checks, opts.Jobs at a time.
func (ck *checker) checkAll(ctx context.Context, cands []*candidate) error {
	work := make(chan *candidate)
	var wg sync.WaitGroup
	for range min(ck.opts.Jobs, max(len(cands), 1)) {
		wg.Go(func() {
			for c := range work {
				ck.check(c)
			}
		})
	}
	for _, c := range cands {
		if ctx.Err() != nil {
			break
		}
		work <- c
	}
	close(work)
	wg.Wait()
	return ctx.Err()
}

// check makes one module's own checks, in the kernel's order.
func (ck *checker) check(c *candidate) {
	v := &c.verdict
	v.Module, v.Name = c.path, c.name
	file, err := fileio.ReadInput(c.path, ck.opts.MaxModuleSize)
	var img []byte
	if err == nil {
		img, err = modfile.DecompressBytes(file, ck.opts.MaxModuleSize)
	}
	var e *elfmod.Module
	if err == nil {
		e, err = elfmod.Parse(img)
	}
	if err == nil && c.res == nil {
		err = errors.New("depmod could not read it")
	}
	if err != nil {
		v.Problems = append(v.Problems, problem(c, "", ErrUnreadable, "%w", err))
		return
	}
	if ck.opts.Certificates != nil {
		if _, err := sign.Verify(file, ck.opts.Certificates); err != nil {
			v.Problems = append(v.Problems, problem(c, "", ErrSignature, "%w", err))
		}
	}
	if size, ok := e.SectionSize(".gnu.linkonce.this_module"); ck.facts.checksStruct && (!ok || size != ck.facts.structModule) {
		v.Problems = append(v.Problems, problem(c, "", ErrModuleStruct, ".gnu.linkonce.this_module is %d bytes, the kernel's struct module %d", size, ck.facts.structModule))
	}
	versions, verr := e.Versions()
	hasVersions := verr == nil
	versioned := make(map[string]bool, len(versions))
	for _, s := range versions {
		versioned[s.Name] = true
	}
	forced := func(why string) bool {
		if ck.facts.forceLoad {
			if v.Tainted == "" {
				v.Tainted = why
			}
			return true
		}
		return false
	}
	var symbols []*Problem
	mi := moduleImports{
		hasVersions: hasVersions, versioned: versioned, forced: forced,
		gpl: gplCompatible(modinfoValue(c.res.Info, "license")), namespaces: map[string]bool{},
	}
	for _, kv := range c.res.Info {
		if kv.Key == "import_ns" {
			mi.namespaces[kv.Value] = true
		}
	}
	for _, imp := range c.res.Imports {
		p := ck.symbol(c, imp, &mi)
		if p == nil {
			continue
		}
		if imp.Name == "module_layout" {
			v.Problems = append(v.Problems, p) // check_modstruct_version, before vermagic
		} else {
			symbols = append(symbols, p)
		}
	}
	if !hasVersions && !forced("no __versions") {
		v.Problems = append(v.Problems, problem(c, "module_layout", ErrCRC, "module_layout: the module has no __versions and the kernel cannot force it"))
	}
	magic := modinfoValue(c.res.Info, "vermagic")
	switch {
	case magic == "":
		if !forced("no vermagic") {
			v.Problems = append(v.Problems, problem(c, "", ErrVermagic, "no vermagic, and the kernel cannot force it"))
		}
	case !sameMagic(magic, ck.facts.vermagic, hasVersions):
		v.Problems = append(v.Problems, problem(c, "", ErrVermagic, "version magic '%s' should be '%s'", magic, ck.facts.vermagic))
	}
	v.Problems = append(v.Problems, symbols...)
	for _, dep := range strings.Split(modinfoValue(c.res.Info, "depends"), ",") {
		if dep == "" {
			continue
		}
		dep = modname.Normalize(dep)
		if ck.byName[dep] == nil && !ck.targetNames[dep] && !ck.facts.builtin[dep] {
			v.Problems = append(v.Problems, problem(c, dep, ErrMissingDependency, "%s", dep))
		}
	}
}

// moduleImports is what the checks of a module's imports need of it.
type moduleImports struct {
	hasVersions bool
	versioned   map[string]bool // the symbols of its __versions
	forced      func(why string) bool
	gpl         bool            // its license is GPL-compatible
	namespaces  map[string]bool // its import_ns
}

// symbol checks one import the way simplify_symbols, resolve_symbol,
// check_version and verify_namespace_is_imported do; it returns nil when
// the kernel accepts it (or it cannot be told).
func (ck *checker) symbol(c *candidate, imp depmod.Import, mi *moduleImports) *Problem {
	v := &c.verdict
	have, known := imp.OwnerCRC, imp.OwnerCRCKnown
	found := imp.Found
	exp := ck.exports[imp.Name]
	if found && exp.gplOnly && !mi.gpl && !imp.Weak {
		return problem(c, imp.Name, ErrUnknownSymbol, "%s (GPL-only, and the module's license is not GPL-compatible)", imp.Name)
	}
	if imp.Owner == "" && !known {
		if crc, ok := ck.kernelCRC[imp.Name]; ok {
			have, known, found = crc, true, true
		}
	}
	if !found {
		if imp.Weak {
			return nil
		}
		if !ck.kernelNames {
			v.Unchecked = append(v.Unchecked, imp.Name)
			return nil
		}
		return problem(c, imp.Name, ErrUnknownSymbol, "%s", imp.Name)
	}
	if imp.Owner != "" && !imp.OwnerCRCKnown {
		return ck.namespace(c, imp, exp, mi) // the exporter has no CRCs: nothing to compare
	}
	if !known {
		if imp.Name != "__this_module" {
			v.Unchecked = append(v.Unchecked, imp.Name)
		}
		return ck.namespace(c, imp, exp, mi)
	}
	switch {
	case !mi.hasVersions:
		if !mi.forced("no __versions") {
			return problem(c, imp.Name, ErrCRC, "%s: the module has no __versions", imp.Name)
		}
	case !mi.versioned[imp.Name]:
		// "no symbol version": a warning
	case imp.CRC != have:
		return problem(c, imp.Name, ErrCRC, "%s (module 0x%08x, kernel 0x%08x)", imp.Name, imp.CRC, have)
	}
	return ck.namespace(c, imp, exp, mi)
}

// namespace is verify_namespace_is_imported.
func (ck *checker) namespace(c *candidate, imp depmod.Import, exp export, mi *moduleImports) *Problem {
	if exp.namespace == "" || mi.namespaces[exp.namespace] {
		return nil
	}
	return problem(c, imp.Name, ErrNamespace, "%s from namespace %s", imp.Name, exp.namespace)
}

// sameMagic is the kernel's same_magic: with CRCs, the first word (the
// release) is left out of the comparison.
func sameMagic(a, b string, hasCRCs bool) bool {
	if hasCRCs {
		a = a[strings.IndexByte(a+" ", ' '):]
		b = b[strings.IndexByte(b+" ", ' '):]
	}
	return a == b
}

// dependencies fills each verdict's Deps (insmod order) and adds the
// problems of dependencies among the candidates that will not load.
func (ck *checker) dependencies(cands []*candidate) {
	own := make(map[*candidate]bool, len(cands))
	for _, c := range cands {
		own[c] = len(c.verdict.Problems) > 0
	}
	for _, c := range cands {
		if c.res == nil {
			continue
		}
		var order []string
		seen := map[string]bool{c.path: true}
		var visit func(r *depmod.Resolved)
		visit = func(r *depmod.Resolved) {
			for _, d := range r.Deps {
				if seen[d] {
					continue
				}
				seen[d] = true
				if dr := ck.byPath[d]; dr != nil {
					visit(dr)
				}
				order = append(order, d)
			}
		}
		visit(c.res)
		c.verdict.Deps = order
		var refused []*Problem
		for _, d := range order {
			dc := ck.byName[modname.FromPath(d)]
			if dc != nil && dc.path == d && own[dc] {
				refused = append(refused, problem(c, dc.name, ErrDependency, "%s", dc.name))
			}
		}
		c.verdict.Problems = append(refused, c.verdict.Problems...)
	}
}

// holdsExports reports whether the System.map at path names an exported
// symbol (a __ksymtab_ one), as depmod -F reads them.
func holdsExports(path string) (bool, error) {
	data, err := fileio.ReadInput(path, 256<<20)
	if err != nil {
		return false, err
	}
	return bytes.Contains(data, []byte(" __ksymtab_")), nil
}

// versionsOf returns the __versions entries of the module file at path,
// none when it cannot be read.
func versionsOf(path string, maxSize int64) []elfmod.Symbol {
	img, err := readImage(path, maxSize)
	if err != nil {
		return nil
	}
	e, err := elfmod.Parse(img)
	if err != nil {
		return nil
	}
	v, _ := e.Versions()
	return v
}

// releaseAtLeast reports whether the kernel release (6.12.118+deb13-amd64)
// is major.minor or later; a release that does not start with two numbers
// counts as later.
func releaseAtLeast(release string, major, minor int) bool {
	var ma, mi int
	if n, _ := fmt.Sscanf(release, "%d.%d", &ma, &mi); n != 2 {
		return true
	}
	return ma > major || ma == major && mi >= minor
}
