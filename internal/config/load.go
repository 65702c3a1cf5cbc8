package config

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/kmodlog"
)

// MaxFileSize bounds how much of one configuration file is read. kmod has
// no limit; a configuration file bigger than this is truncated and
// reported, so that a hostile file cannot exhaust memory.
const MaxFileSize = 64 << 20

// pathMax is Linux's PATH_MAX, which bounds the file names libkmod builds.
const pathMax = 4096

// Source says where configuration is read from.
type Source struct {
	// ModuleDir is the module directory; its modules.softdep and
	// modules.weakdep are read as configuration files named after
	// themselves.
	ModuleDir string
	// ModuleFiles, if not nil, hold the module directory's files by
	// name: modules.softdep and modules.weakdep are taken from it rather
	// than read (a layered tree's, which package depmod made in
	// memory). A name it lacks is a file that does not exist.
	ModuleFiles map[string][]byte
	// Paths are the directories or files to read, in precedence order.
	// nil means DefaultPaths(); an empty slice means none.
	Paths []string
	// Cmdline is the kernel command line file, normally /proc/cmdline.
	// Empty means none.
	Cmdline string
	// Dialect selects the kmod release to follow.
	Dialect Dialect
	// Softdeps are softdep directives given by the program, taken before
	// every file's (the first softdep matching a module is the one used).
	Softdeps []Softdep
}

type confFile struct {
	name   string // sort key: the base name
	path   string // full path to open
	single bool   // given directly rather than found in a directory
	memory bool   // held in Source.ModuleFiles, not read
}

// Load reads the configuration from src. diag, if not nil, receives every
// message libkmod would log.
func Load(src Source, diag func(Diag)) *Config {
	if diag == nil {
		diag = func(Diag) {}
	}
	paths := src.Paths
	if paths == nil {
		paths = DefaultPaths(src.Dialect)
	}
	var list []confFile
	insert := func(cf confFile, dir string) {
		i := sort.Search(len(list), func(i int) bool { return list[i].name >= cf.name })
		if i < len(list) && list[i].name == cf.name {
			diag(Diag{Code: DuplicateFile, Debug: true, Msg: fmt.Sprintf("Ignoring duplicate config file: %s/%s", dir, cf.name)})
			return
		}
		list = append(list, confFile{})
		copy(list[i+1:], list[i:])
		list[i] = cf
	}
	if src.ModuleDir != "" {
		pseudo := []string{"modules.softdep", "modules.weakdep"}
		if src.Dialect == Kmod30 {
			pseudo = pseudo[:1]
		}
		for _, name := range pseudo {
			insert(confFile{name: name, path: src.ModuleDir + "/" + name, memory: src.ModuleFiles != nil}, src.ModuleDir)
		}
	}
	for _, p := range paths {
		isDir, err := fileio.Kind(p)
		if err != nil {
			continue
		}
		if !isDir {
			insert(confFile{name: filepath.Base(p), path: p, single: true}, p)
			continue
		}
		names, err := fileio.ReadDirNames(p)
		if err != nil {
			diag(Diag{Code: OpenDir, Msg: fmt.Sprintf("opendir(%s): %s", p, kmodlog.Strerror(err))})
			continue
		}
		sort.Strings(names)
		for _, name := range names {
			if !wantConf(name, src.Dialect) {
				continue
			}
			isDir, err := fileio.Kind(p + "/" + name)
			switch {
			case err != nil && src.Dialect != Kmod30 && len(p)+1+len(name) < pathMax:
				// kmod 34 leaves out (and names) an entry it cannot
				// stat, a dangling link say; kmod 30 takes it, and
				// then cannot open it. (kmod stats it relative to
				// the directory, so a path too long for stat is no
				// such entry: it fails when it is read.)
				diag(Diag{Code: StatEntry, Msg: fmt.Sprintf("Cannot stat directory entry: %s/%s", p, name)})
				continue
			case isDir:
				diag(Diag{Code: DirInDir, Msg: fmt.Sprintf("Directories inside directories are not supported: %s/%s", p, name)})
				continue
			}
			insert(confFile{name: name, path: p + "/" + name}, p)
		}
	}

	c := &Config{dialect: src.Dialect}
	c.Softdeps = append(c.Softdeps, src.Softdeps...)
	for _, cf := range list {
		if !cf.single && len(cf.path) >= pathMax {
			dir := strings.TrimSuffix(cf.path, "/"+cf.name)
			diag(Diag{Code: PathTooLong, Msg: fmt.Sprintf("Error parsing %s/%s: path too long", dir, cf.name)})
			continue
		}
		var data []byte
		var err error
		if cf.memory {
			var ok bool
			if data, ok = src.ModuleFiles[cf.name]; !ok {
				continue
			}
		} else {
			data, err = readFile(cf.path)
		}
		if err != nil && data == nil {
			continue // libkmod skips files it cannot open, silently
		}
		if err != nil {
			diag(Diag{Code: TooLarge, Pos: Pos{File: cf.path}, Msg: fmt.Sprintf("%s: %v", cf.path, err)})
		}
		c.Files = append(c.Files, cf.path)
		c.parseFile(data, cf.path, diag)
	}
	if src.Cmdline != "" {
		c.readCmdline(src.Cmdline, diag)
	}
	return c
}

// wantConf is libkmod's filter for names in a configuration directory;
// kmod 30 also took *.alias files.
func wantConf(name string, d Dialect) bool {
	if strings.HasPrefix(name, ".") || len(name) < 6 {
		return false
	}
	return strings.HasSuffix(name, ".conf") || d == Kmod30 && strings.HasSuffix(name, ".alias")
}

// readFile reads at most MaxFileSize bytes of the file at path. When the
// file is longer it returns the data up to the last complete line within
// the limit, and an error saying so.
func readFile(path string) ([]byte, error) {
	data, err := fileio.ReadFile(path, MaxFileSize+1)
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		data = data[:bytes.LastIndexByte(data[:MaxFileSize], '\n')+1]
		return data, fmt.Errorf("file larger than %d bytes, read up to line end %d", MaxFileSize, len(data))
	}
	return data, nil
}
