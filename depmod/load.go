package depmod

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"sync"
	"syscall"

	"github.com/gokmod/modprobe/internal/elfmod"
	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/modfile"
)

// maxModuleSize bounds a decompressed module, as a Loader's default does.
const maxModuleSize = modfile.DefaultMaxModuleSize

// load reads every module file, in parallel, then adds the exported
// symbols in the modules' order (depmod_load_modules): a symbol exported
// by several modules belongs to the last one.
func (r *run) load() error {
	work := make(chan *mod)
	var wg sync.WaitGroup
	for range min(r.jobs(), max(len(r.modules), 1)) {
		wg.Go(func() {
			// Each worker reads files into its own buffer: no mapping
			// and unmapping, which would make the threads of one
			// process wait on each other's TLB shootdowns.
			var buf []byte
			var out modfile.Buffer // decompressed images, reused
			defer out.Release()
			for m := range work {
				buf = r.read(m, buf, &out)
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
// .modinfo and the symbols it needs. buf is scratch space for a plain
// file, returned for the next call; out receives a decompressed one.
func (r *run) read(m *mod, buf []byte, out *modfile.Buffer) []byte {
	var fi os.FileInfo
	if c := r.opts.Cache; c != nil {
		var ok bool
		if fi, ok = c.load(m); ok {
			return buf
		}
	}
	img, buf, release, err := readImage(m.path, buf, out)
	if err != nil {
		m.exportErr = err // not cached: it may not last
		return buf
	}
	defer release()
	if c := r.opts.Cache; c != nil {
		// What the image says (a format error too) lasts as long as the file.
		defer c.store(m, fi)
	}
	e, err := elfmod.Parse(img)
	if err != nil {
		m.exportErr = syscall.ENOEXEC // libkmod's elf_identify and kmod_elf_new
		return buf
	}
	m.exports, m.exportErr = e.Exports()
	m.info, _ = e.Modinfo()
	m.imports, _ = e.Undefined()
	return buf
}

// mapAbove is the size from which a plain module file is mapped rather
// than read into a worker's buffer: a buffer as large as the largest
// module, for every worker, would make depmod's peak memory twice
// kmod's, which maps every file; smaller files are read, which spares
// the threads each other's TLB shootdowns when a mapping goes.
const mapAbove = 1 << 20

// noRelease is the release of an image that needs none.
func noRelease() {}

// readImage returns the ELF image of the module file at path: a plain
// file read into buf (or mapped, when larger than mapAbove), else
// decompressed into out. release ends the image's use.
func readImage(path string, buf []byte, out *modfile.Buffer) (img, scratch []byte, release func(), err error) {
	f, err := fileio.OpenRegularFile(path)
	if err != nil {
		return nil, buf, nil, err
	}
	defer f.Close()
	size := f.Size()
	if size > maxModuleSize {
		return nil, buf, nil, fmt.Errorf("%s: %w", path, modfile.ErrTooLarge)
	}
	// libkmod reads a 6-byte magic first: a shorter file is EINVAL.
	if size < 6 {
		return nil, buf, nil, syscall.EINVAL
	}
	if size > mapAbove {
		var head [len(elfmod.ELFMag)]byte
		if _, err := f.ReadAt(head[:], 0); err != nil {
			return nil, buf, nil, err
		}
		if string(head[:]) == elfmod.ELFMag {
			data, unmap, err := f.Map(maxModuleSize)
			if err == nil && data != nil {
				return data, buf, func() { _ = unmap() }, nil
			}
			// The file changed under depmod: read it as it is now.
		}
	}
	if int64(cap(buf)) < size {
		// Grow by powers of two: a worker meets ever larger files, and
		// a buffer of each size would be garbage.
		buf = make([]byte, max(64<<10, 1<<bits.Len64(uint64(size-1))))
	}
	buf = buf[:size]
	if err := modfile.ReadAtFull(f, buf, 0); err != nil {
		return nil, buf, nil, err
	}
	if bytes.HasPrefix(buf, []byte(elfmod.ELFMag)) {
		return buf, buf, noRelease, nil
	}
	img, err = out.DecompressBytes(buf, maxModuleSize)
	var errno syscall.Errno
	if err != nil && !errors.As(err, &errno) {
		err = syscall.EINVAL // a corrupt compressed file, as libkmod's loaders say
	}
	return img, buf, noRelease, err
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
