package depmod

import (
	"errors"
	"sync"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/elfmod"
)

// maxModuleSize bounds a decompressed module, as a Loader's default does.
const maxModuleSize = modprobe.DefaultMaxModuleSize

// load reads every module file, in parallel, then adds the exported
// symbols in the modules' order (depmod_load_modules): a symbol exported
// by several modules belongs to the last one.
func (r *run) load() error {
	work := make(chan *mod)
	var wg sync.WaitGroup
	for range min(r.jobs(), max(len(r.modules), 1)) {
		wg.Go(func() {
			for m := range work {
				r.read(m)
			}
		})
	}
	for _, m := range r.modules {
		if r.ctx.Err() != nil {
			break
		}
		work <- m
	}
	close(work)
	wg.Wait()
	if err := r.ctx.Err(); err != nil {
		return err
	}
	for _, m := range r.modules {
		if m.exportErr != nil {
			if !errors.Is(m.exportErr, elfmod.ErrNoSection) {
				r.errorf("failed to load symbols from %s: %s", m.path, strerror(m.exportErr))
			}
			continue
		}
		for _, s := range m.exports {
			r.addSymbol(s.Name, false, s.CRC, m)
		}
	}
	return nil
}

// read reads what depmod needs of one module file: its exports, its
// .modinfo and the symbols it needs.
func (r *run) read(m *mod) {
	img, release, err := modprobe.MapModuleFile(m.path, maxModuleSize)
	if err != nil {
		m.exportErr = err
		return
	}
	defer release()
	e, err := elfmod.Parse(img)
	if err != nil {
		m.exportErr = err
		return
	}
	m.exports, m.exportErr = e.Exports()
	m.info, _ = e.Modinfo()
	m.imports, _ = e.Undefined()
}

// addSymbol is depmod_symbol_add: the architecture's prefix is dropped
// unless the caller did so, and a later symbol replaces an earlier one.
func (r *run) addSymbol(name string, prefixSkipped bool, crc uint64, owner *mod) {
	if !prefixSkipped && len(name) > 0 && name[0] == r.opts.SymPrefix {
		name = name[1:]
	}
	r.symbols[name] = &symbol{name: name, owner: owner, crc: crc}
}

// findSymbol is depmod_symbol_find.
func (r *run) findSymbol(name string) *symbol {
	if len(name) > 0 && name[0] == '.' {
		name = name[1:]
	}
	if len(name) > 0 && name[0] == r.opts.SymPrefix {
		name = name[1:]
	}
	return r.symbols[name]
}
