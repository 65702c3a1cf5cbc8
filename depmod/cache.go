package depmod

import (
	"os"
	"sync"

	"github.com/gokmod/modprobe/internal/elfmod"
)

// ModuleCache keeps what depmod read of each module file (its .modinfo,
// its exports and the symbols it needs), so that several runs over trees
// that share files (Options.Cache) read and decompress each file once:
// preflight checks one candidate set after another against the same
// target tree this way. An entry serves a later run only while the file
// at its path is the same file (os.SameFile) with the same size and
// modification time; otherwise the file is read again. The zero value is
// ready; a ModuleCache is safe for concurrent use. It holds a tree's
// worth of symbols (some tens of MiB for a distribution's tree) until it
// is dropped.
type ModuleCache struct {
	mu      sync.Mutex
	entries map[string]cachedModule
}

// cachedModule is one module file as a run read it.
type cachedModule struct {
	fi        os.FileInfo
	info      []elfmod.KeyValue
	exports   []elfmod.Symbol
	imports   []elfmod.Symbol
	exportErr error
}

// load fills m from the cache when it holds m's file as it is now,
// reporting whether it did; fi is the file's status for store (nil when
// it cannot be had: nothing is cached then).
func (c *ModuleCache) load(m *mod) (fi os.FileInfo, ok bool) {
	fi, err := os.Stat(m.path)
	if err != nil {
		return nil, false
	}
	c.mu.Lock()
	e, found := c.entries[m.path]
	c.mu.Unlock()
	if !found || !os.SameFile(e.fi, fi) || e.fi.Size() != fi.Size() || !e.fi.ModTime().Equal(fi.ModTime()) {
		return fi, false
	}
	m.info, m.exports, m.imports, m.exportErr = e.info, e.exports, e.imports, e.exportErr
	return fi, true
}

// store keeps what was read of m, whose file had the status fi before
// it was read.
func (c *ModuleCache) store(m *mod, fi os.FileInfo) {
	if fi == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cachedModule{}
	}
	c.entries[m.path] = cachedModule{fi: fi, info: m.info, exports: m.exports, imports: m.imports, exportErr: m.exportErr}
}
