package depmod

import (
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gokmod/modprobe/internal/config"
	"github.com/gokmod/modprobe/internal/ere"
	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/kmodlog"
)

// DefaultConfigPaths returns the depmod.d directories the depmod of kmod
// release c reads when no -C option names others, in precedence order:
// kmod 34 adds /usr/lib/depmod.d.
func DefaultConfigPaths(c config.Dialect) []string {
	if c == config.Kmod30 {
		return []string{"/etc/depmod.d", "/run/depmod.d", "/usr/local/lib/depmod.d", "/lib/depmod.d"}
	}
	return []string{"/etc/depmod.d", "/run/depmod.d", "/usr/local/lib/depmod.d", "/usr/lib/depmod.d", "/lib/depmod.d"}
}

// searchKind is the kind of a "search" entry.
type searchKind int

const (
	searchPath searchKind = iota
	searchBuiltin
	searchExternal
)

type search struct {
	kind searchKind
	path string
}

// cfg is depmod.d's configuration, its lists in kmod's order: each
// directive is put in front of the earlier ones, as kmod's linked lists
// do.
type cfg struct {
	searches  []search
	overrides []string // "SUBDIR/MODNAME", no extension
	externals []string
	excludes  []string
}

// loadConfig reads the configuration files of paths (directories, or
// files), ordered by base name with the first path winning a name, as
// kmod's depmod does; release selects override and external lines.
func (r *run) loadConfig(paths []string) {
	type file struct{ name, path string }
	var files []file
	insert := func(name, path string) {
		i, found := slices.BinarySearchFunc(files, name, func(f file, n string) int { return strings.Compare(f.name, n) })
		if found {
			r.debugf("Ignoring duplicate config file: %s", path)
			return
		}
		files = slices.Insert(files, i, file{name, path})
	}
	for _, p := range paths {
		isDir, err := fileio.Kind(p)
		if err != nil {
			continue
		}
		if !isDir {
			insert(filepath.Base(p), p)
			continue
		}
		names, err := fileio.ReadDirNames(p)
		if err != nil {
			r.errorf("files list %s: %s", p, strerror(err))
			continue
		}
		for _, name := range names {
			if name[0] == '.' {
				continue
			}
			if len(name) < 6 || !strings.HasSuffix(name, ".conf") {
				r.infof("All cfg files need .conf: %s/%s", p, name)
				continue
			}
			if fileio.IsDir(p + "/" + name) {
				r.errorf("Directories inside directories are not supported: %s/%s", p, name)
				continue
			}
			insert(name, p+"/"+name)
		}
	}
	for _, f := range files {
		r.parseConfig(f.path)
	}
	if len(r.cfg.searches) == 0 {
		r.cfg.searches = []search{{kind: searchPath, path: "updates"}}
	}
}

// parseConfig reads one depmod.d file.
func (r *run) parseConfig(path string) {
	// A device is read (/dev/null masks a file), a FIFO refused, and a
	// file over maxTextSize (/dev/zero) is an error, not cut short.
	data, err := readText(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r.errorf("file parse %s: %s", path, strerror(err))
		}
		return
	}
	c := &r.cfg
	config.LogicalLines(data, true, func(b []byte, num int) {
		line := string(b)
		if line == "" || line[0] == '#' {
			return
		}
		fields := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
		if len(fields) == 0 {
			return
		}
		cmd, args := fields[0], fields[1:]
		switch cmd {
		case "search":
			for _, a := range args {
				s := search{kind: searchPath, path: a}
				switch a {
				case "built-in":
					s = search{kind: searchBuiltin}
				case "external":
					s = search{kind: searchExternal}
				}
				c.searches = slices.Insert(c.searches, 0, s)
			}
		case "override":
			if len(args) < 3 {
				r.errorf("%s:%d: ignoring bad line starting with '%s'", path, num, cmd)
				return
			}
			if !kernelMatches(args[1], r.release) {
				r.infof("%s:%d: override kernel did not match %s", path, num, args[1])
				return
			}
			c.overrides = slices.Insert(c.overrides, 0, args[2]+"/"+args[0])
		case "external":
			if len(args) < 2 {
				r.errorf("%s:%d: ignoring bad line starting with '%s'", path, num, cmd)
				return
			}
			if !kernelMatches(args[0], r.release) {
				r.infof("%s:%d: external directory did not match %s", path, num, args[0])
				return
			}
			c.externals = slices.Insert(c.externals, 0, args[1])
		case "exclude":
			for _, a := range args {
				c.excludes = slices.Insert(c.excludes, 0, a)
			}
		case "include", "make_map_files":
			r.infof("%s:%d: command %s not implemented yet", path, num, cmd)
		default:
			r.errorf("%s:%d: ignoring bad line starting with '%s'", path, num, cmd)
		}
	})
}

// kernelMatches is cfg_kernel_matches: "*", or a POSIX extended regular
// expression found anywhere in the release (regcomp with REG_EXTENDED and
// REG_NOSUB, then regexec); a pattern that does not compile matches
// nothing, as one regcomp rejects does.
func kernelMatches(pattern, release string) bool {
	if pattern == "*" {
		return true
	}
	re, err := ere.Compile(pattern)
	if err != nil {
		return false
	}
	return re.MatchString(release)
}

// strerror is strerror(3) of the errno in err; an error without one that
// names a file (a FIFO refused, a file over its bound) is told without
// the file, which depmod's messages name already.
func strerror(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return kmodlog.Strerror(err)
}
