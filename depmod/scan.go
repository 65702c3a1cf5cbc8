package depmod

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/gokmod/modprobe/internal/cscan"
	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/modname"
)

// IsModuleFile reports whether a file name ends as a module's does to a
// kmod built with every compression: .ko, .ko.gz, .ko.xz or .ko.zst.
// (Debian's kmod 30 and 34 are built without zlib and skip .ko.gz.)
func IsModuleFile(name string) bool {
	return strings.HasSuffix(name, ".ko") || strings.HasSuffix(name, ".ko.zst") || strings.HasSuffix(name, ".ko.xz") || strings.HasSuffix(name, ".ko.gz")
}

// search is depmod_modules_search: the module directory, then the
// external directories.
func (r *run) search() error {
	if r.opts.Layers != nil {
		if err := r.searchLayers(); err != nil {
			return err
		}
	} else if err := r.searchPath(r.dirname); err != nil {
		return err
	}
	for _, ext := range r.cfg.externals {
		_ = r.searchPath(ext) // an absent external directory is ignored
	}
	return nil
}

func (r *run) searchPath(dir string) error {
	// Directories are opened as opendir(3) opens them: a FIFO in the tree
	// is ENOTDIR at once, never a wait for a writer.
	d, err := fileio.OpenDir(dir)
	if err != nil {
		r.errorf("could not open directory %s: %s", dir, strerror(err))
		return err
	}
	defer d.Close()
	if r.walked == nil {
		r.walked = map[[2]uint64]bool{}
	}
	if st, err := d.Stat(); err == nil {
		if dev, ino, ok := fileio.FileID(st); ok {
			r.walked[[2]uint64{dev, ino}] = true
		}
	}
	r.searchDir(d, dir+"/", 3)
	return nil
}

// skipName reports the entries every walk of the tree skips (ReadDir
// never gives "." or "..").
func skipName(name string) bool { return name == "build" || name == "source" }

// excluded is should_exclude_dir, for any entry name.
func (r *run) excluded(name string) bool {
	return skipName(name) || slices.Contains(r.cfg.excludes, name)
}

// searchDir walks a directory in the order the kernel lists it, as
// readdir does. fd is the descriptor number kmod's walk has the directory
// open as (3 for the top, one more per level), which its messages show.
func (r *run) searchDir(d *os.File, base string, fd int) {
	entries, err := d.ReadDir(-1)
	if err != nil && len(entries) == 0 {
		return
	}
	for _, e := range entries {
		if r.ctx.Err() != nil {
			return
		}
		name := e.Name()
		if r.excluded(name) {
			continue
		}
		p := base + name
		var isDir bool
		switch t := e.Type(); {
		case t.IsRegular():
		case t.IsDir():
			isDir = true
		default:
			st, err := os.Stat(p)
			switch {
			case err != nil:
				r.errorf("fstatat(%d, %s): %s", fd, name, strerror(err))
				continue
			case st.Mode().IsRegular():
			case st.IsDir():
				isDir = true
			default:
				r.errorf("unsupported file type %s: %o", p, unixType(st.Mode()))
				continue
			}
		}
		if isDir {
			sub, err := fileio.OpenDir(p)
			if err != nil {
				r.errorf("openat(%d, %s, O_RDONLY): %s", fd, name, strerror(err))
				continue
			}
			// kmod walks a directory each time a link leads to it, and
			// links to "." or a parent make that endless; gokmod walks
			// each directory once.
			if st, err := sub.Stat(); err == nil {
				if dev, ino, ok := fileio.FileID(st); ok {
					id := [2]uint64{dev, ino}
					if r.walked[id] {
						sub.Close()
						continue
					}
					r.walked[id] = true
				}
			}
			r.searchDir(sub, p+"/", fd+1)
			sub.Close()
			continue
		}
		r.searchFile(base, name, p)
	}
}

// unixType returns st_mode & S_IFMT for a mode.
func unixType(m fs.FileMode) uint32 {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return 0o010000
	case m&fs.ModeCharDevice != 0:
		return 0o020000
	case m&fs.ModeDevice != 0:
		return 0o060000
	case m&fs.ModeSocket != 0:
		return 0o140000
	case m&fs.ModeSymlink != 0:
		return 0o120000
	}
	return 0
}

// searchFile is depmod_modules_search_file: a module file found in the
// tree replaces a module of the same name found before unless that one
// has priority.
func (r *run) searchFile(base, name, path string) {
	if !IsModuleFile(name) {
		return
	}
	mn := modname.Normalize(name)
	if old := r.byName[mn]; old != nil {
		if old.layer < r.layer {
			r.debugf("Ignored lower layer: %s, higher: %s", path, old.path)
			return
		}
		if r.higherPriority(old, len(base), len(mn), path) {
			r.debugf("Ignored lower priority: %s, higher: %s", path, old.path)
			return
		}
		r.del(old)
	}
	if err := r.add(path, mn); err != nil {
		r.errorf("could not add module %s: %s", path, strerror(err))
		r.errorf("failed %s: %s", path, strerror(err))
	}
}

// add is depmod_module_add for the module name (modname.FromPath of path);
// a name or relative path already taken is EEXIST.
func (r *run) add(path, name string) error {
	m := &mod{name: name, path: path, sortIdx: 1, depSortIdx: 1<<31 - 1, layer: r.layer}
	m.baselen = strings.LastIndexByte(path, '/')
	if strings.HasPrefix(path, r.root) && len(path) > len(r.root) && path[len(r.root)] == '/' {
		m.relpath = path[len(r.root)+1:]
	}
	if _, dup := r.byName[m.name]; dup {
		r.errorf("hash_add_unique %s: %s", m.name, strerror(syscall.EEXIST))
		return syscall.EEXIST
	}
	if m.relpath != "" {
		// kmod copies the relative path's own bytes up to where ".ko"
		// ends after a name of the module name's length: the file's
		// spelling ("snd-hda.ko"), not the module name's.
		n := m.baselen - len(r.root) - 1 + 1 + len(m.name) + len(".ko")
		m.uncrelpath = m.relpath[:min(n, len(m.relpath))]
		if _, dup := r.byUncrel[m.uncrelpath]; dup {
			r.errorf("hash_add_unique %s: %s", m.uncrelpath, strerror(syscall.EEXIST))
			return syscall.EEXIST
		}
		r.byUncrel[m.uncrelpath] = m
	}
	r.byName[m.name] = m
	return nil
}

func (r *run) del(m *mod) {
	if m.uncrelpath != "" {
		delete(r.byUncrel, m.uncrelpath)
	}
	delete(r.byName, m.name)
}

// higherPriority is depmod_module_is_higher_priority: whether old, found
// before, wins over the module at newpath (baselen is the length of its
// directory with the final '/', namelen of its module name).
func (r *run) higherPriority(old *mod, baselen, namelen int, newpath string) bool {
	dn := len(r.root)
	newlen := baselen + namelen
	oldlen := old.baselen + len(old.name) + 1
	oldpath := old.path
	var relnew, relold string
	relnewlen, reloldlen := 0, 0
	if strings.HasPrefix(newpath, r.root) {
		relnew = tail(newpath, dn+1)
		relnewlen = newlen - (dn + 1)
	}
	if strings.HasPrefix(oldpath, r.root) {
		relold = tail(oldpath, dn+1)
		reloldlen = oldlen - (dn + 1)
	}
	for _, ov := range r.cfg.overrides {
		if relnewlen == len(ov) && strings.HasPrefix(relnew, ov) {
			return false
		}
		if reloldlen == len(ov) && strings.HasPrefix(relold, ov) {
			return true
		}
	}
	bprio, oldprio, newprio := -1, -1, -1
	i := 0
	for _, se := range r.cfg.searches {
		switch {
		case se.kind == searchBuiltin:
			bprio = i
		case se.kind == searchExternal:
			for _, ext := range r.cfg.externals {
				if startsWithDir(newpath, newlen, ext) {
					newprio = i
				}
				if startsWithDir(oldpath, oldlen, ext) {
					oldprio = i
				}
				i++
			}
		case relnewlen > len(se.path) && byteAt(relnew, len(se.path)) == '/' && strings.HasPrefix(relnew, se.path):
			newprio = i
		case reloldlen > len(se.path) && byteAt(relold, len(se.path)) == '/' && strings.HasPrefix(relold, se.path):
			oldprio = i
		}
		i++
	}
	if newprio < 0 {
		newprio = bprio
	}
	if oldprio < 0 {
		oldprio = bprio
	}
	return newprio <= oldprio
}

func tail(s string, i int) string {
	if i > len(s) {
		return ""
	}
	return s[i:]
}

func byteAt(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

// startsWithDir is depmod_is_path_starts_with.
func startsWithDir(path string, pathlen int, prefix string) bool {
	return pathlen > len(prefix) && byteAt(path, len(prefix)) == '/' && strings.HasPrefix(path, prefix)
}

// buildArray is depmod_modules_build_array: the modules in the iteration
// order of kmod's 512-bucket modules_by_name table.
func (r *run) buildArray() {
	r.modules = make([]*mod, 0, len(r.byName))
	for _, m := range r.byName {
		r.modules = append(r.modules, m)
	}
	hashOrder(r.modules, func(m *mod) string { return m.name }, 512)
	for i, m := range r.modules {
		m.idx = i
	}
}

// pathMax is kmod's line buffer for modules.order (fgets with PATH_MAX).
const pathMax = 4096

// sort is depmod_modules_sort: modules named in modules.order come first,
// in its order; the others keep their order after them.
func (r *run) sort() {
	if r.opts.Layers != nil {
		r.sortLayers()
		return
	}
	data, err := readText(r.dirname + "/modules.order")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, derr := os.Stat(r.dirname); derr != nil {
				r.warnf("could not open directory %s: %s", r.dirname, strerror(derr))
				return
			}
		}
		r.warnf("could not open %s at %s: %s", "modules.order", r.dirname, strerror(err))
		return
	}
	lines := fgetsLines(data)
	if !r.orderComplete(r.dirname, lines) {
		return
	}
	r.sortByOrder(lines)
}

// orderComplete reports whether every line of the modules.order file of
// dir ends in a newline, as kmod requires before it uses any.
func (r *run) orderComplete(dir string, lines [][]byte) bool {
	for i, l := range lines {
		if len(l) > 0 && l[len(l)-1] != '\n' {
			r.errorf("%s/%s:%d corrupted line misses '\\n'", dir, "modules.order", i+1)
			return false
		}
	}
	return true
}

// sortByOrder sorts the modules by the lines of modules.order.
func (r *run) sortByOrder(lines [][]byte) {
	total := len(lines) + 1
	for i, l := range lines {
		line := string(l[:len(l)-1])
		m := r.byUncrel[cscan.CString(line)]
		if m == nil {
			continue
		}
		// A module listed twice: kmod 30 takes the last line, kmod 34
		// the first.
		if !r.kmod30() && m.sortIdx < 0 {
			continue
		}
		m.sortIdx = i + 1 - total
	}
	slices.SortStableFunc(r.modules, func(a, b *mod) int { return a.sortIdx - b.sortIdx })
	for i, m := range r.modules {
		m.idx = i
	}
}

// fgetsLines splits data as repeated fgets(buf, PATH_MAX) calls do: at
// each newline (kept), and after PATH_MAX-1 bytes of a longer line.
func fgetsLines(data []byte) [][]byte { return cscan.Lines(data, pathMax) }
