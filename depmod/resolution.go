package depmod

import (
	"context"

	"github.com/gokmod/modprobe/internal/elfmod"
)

// Resolved is one module of a tree as depmod resolves it: the modules it
// needs and, symbol by symbol, who provides what it imports. It is what
// depmod -e reports on, as data (see Resolve).
type Resolved struct {
	// Path is the module file; Name is its module name.
	Path, Name string
	// Info is its .modinfo, in file order.
	Info []KeyValue
	// Deps are the paths of the modules it needs directly, in
	// modules.dep's order.
	Deps []string
	// Imports are the symbols it needs, as depmod reads them: its
	// undefined symbols, then the __versions entries no symbol matched
	// (module_layout).
	Imports []Import
}

// KeyValue is one .modinfo entry.
type KeyValue struct {
	Key, Value string
}

// Import is a symbol a module needs and what the tree and the kernel's
// symbols (Options.Symvers or Options.SystemMap) say of it.
type Import struct {
	// Name is the symbol; CRC is the module's __versions entry for it
	// (0 when it has none).
	Name string
	CRC  uint64
	// Weak: the module can do without it.
	Weak bool
	// Found: a module of the tree, the kernel's symbols or the loader
	// itself (__this_module) provides it. Without Symvers or SystemMap
	// only modules and the loader do.
	Found bool
	// Owner is the path of the module exporting it; "" for the kernel.
	Owner string
	// OwnerCRC is the exporter's CRC when OwnerCRCKnown: a kernel symbol
	// read from Symvers, or a module's export with a CRC (a module built
	// without modversions exports none, which reads as 0).
	OwnerCRC      uint64
	OwnerCRCKnown bool
}

// Unknown reports whether depmod -e would say the module "needs unknown
// symbol" Name.
func (i Import) Unknown() bool { return !i.Found && !i.Weak }

// Mismatch reports whether depmod -e -E would say the module "disagrees
// about version of symbol" Name: both sides have a CRC and they differ.
// Unlike depmod, an exporting module's CRC is compared even without
// Symvers (the kernel compares it too).
func (i Import) Mismatch() bool {
	return i.Found && !i.Weak && i.OwnerCRCKnown && i.CRC != i.OwnerCRC
}

// Resolve reads the tree Options name (or Options.Modules) as Run does
// and returns every module with its dependencies and the resolution of
// each symbol it imports, in the tree's order, instead of writing index
// files. ErrSyms, DryRun, OutDir, OutputDir, Quick and Show are ignored;
// Log still receives depmod's messages about files it could not read.
func Resolve(ctx context.Context, opts Options) ([]Resolved, error) {
	opts.ErrSyms, opts.Show, opts.Quick = false, nil, false
	r := &run{ctx: ctx, opts: opts, byName: map[string]*mod{}, byUncrel: map[string]*mod{}, symbols: map[string]*symbol{}}
	if err := r.setRelease(); err != nil {
		return nil, err
	}
	if err := r.index(); err != nil {
		return nil, err
	}
	out := make([]Resolved, 0, len(r.modules))
	for _, m := range r.modules {
		res := Resolved{Path: m.path, Name: m.name, Info: make([]KeyValue, len(m.info)), Imports: make([]Import, 0, len(m.imports))}
		for i, kv := range m.info {
			res.Info[i] = KeyValue(kv)
		}
		for _, d := range m.deps {
			res.Deps = append(res.Deps, d.path)
		}
		for _, s := range m.imports {
			imp := Import{Name: s.Name, CRC: s.CRC, Weak: s.Bind == elfmod.STBWeak}
			if sym := r.findSymbol(s.Name); sym != nil {
				imp.Found = true
				imp.OwnerCRC = sym.crc
				if sym.owner != nil {
					imp.Owner = sym.owner.path
					imp.OwnerCRCKnown = sym.crc != 0
				} else {
					imp.OwnerCRCKnown = r.opts.Symvers != "" && !fakeSymbol(sym.name)
				}
			}
			res.Imports = append(res.Imports, imp)
		}
		out = append(out, res)
	}
	return out, nil
}

// fakeSymbol reports whether name is one of addFakeSymbols' symbols,
// which the loader provides and which carry no CRC.
func fakeSymbol(name string) bool {
	return name == "__this_module" || name == "_GLOBAL_OFFSET_TABLE_" || name == "TOC."
}
