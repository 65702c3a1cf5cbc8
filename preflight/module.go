package preflight

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/gokmod/modprobe/depmod"
	"github.com/gokmod/modprobe/internal/elfmod"
	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/modfile"
	"github.com/gokmod/modprobe/internal/modname"
	"github.com/gokmod/modprobe/sign"
)

// readImage reads a module file and returns its ELF image.
func readImage(path string, maxSize int64) ([]byte, error) {
	data, err := fileio.ReadInput(path, maxSize)
	if err != nil {
		return nil, err
	}
	return modfile.DecompressBytes(data, maxSize)
}

// moduleChecker holds what the checks of every module share.
type moduleChecker struct {
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
func (ck *moduleChecker) checkAll(ctx context.Context, cands []*candidate) error {
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
func (ck *moduleChecker) check(c *candidate) {
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
func (ck *moduleChecker) symbol(c *candidate, imp depmod.Import, mi *moduleImports) *Problem {
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
func (ck *moduleChecker) namespace(c *candidate, imp depmod.Import, exp export, mi *moduleImports) *Problem {
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
