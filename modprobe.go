// Package modprobe resolves, plans and (in later releases) loads Linux
// kernel modules with the semantics of kmod's modprobe, in pure Go.
//
// # Overview
//
// Open a Loader on a module tree and a configuration, then ask it what
// modprobe would do:
//
//	l, err := modprobe.Open(modprobe.Options{KernelRelease: "6.1.0-13-amd64"})
//	...
//	plan, err := l.Plan("ip_vs_wrr", nil, modprobe.PlanOptions{IgnoreLoaded: true})
//
// A Plan is computed without side effects: it reads the module indexes, the
// modprobe.d configuration, the kernel command line and (unless told not
// to) the module state in sysfs, and never touches the kernel.
//
// # Semantics
//
// The Loader follows kmod's libkmod rule for rule: the lookup chain
// (modprobe.d aliases, modules.dep, symbol aliases, install and remove
// commands, modules.alias, modules.builtin, builtin aliases; the first
// source with a result wins), name normalization ('-' and '_' are the same
// except inside brackets), fnmatch alias patterns in which '*' crosses '/',
// several matches in modules.order priority, softdeps and their loops,
// install commands and their cancellation by softdeps, blacklists that
// apply to aliases only, and option strings with kmod's quoting and its
// trailing space. kmod's binary indexes (.bin) are read natively; when one
// is missing, the text file depmod writes beside it is used instead.
//
// # Errors
//
// Errors are *ModuleError values wrapping a sentinel:
//
//	ErrNotFound       nothing matches the name
//	ErrBadName        the name has an unmatched bracket or a NUL byte
//	ErrBuiltin        the module is built into the kernel
//	ErrInUse          the module is in use
//	ErrAlreadyLoaded  a first-time load found the module already loaded
//
// Problems in the configuration or the indexes are not errors: like kmod,
// the Loader logs them (see Options.Logger) and goes on without the bad
// line or index.
//
// # Paths
//
// Every host path the Loader reads comes from Options: the module tree,
// the modprobe.d directories, sysfs and procfs. Tests and tools can point
// them anywhere.
package modprobe

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gokmod/modprobe/internal/config"
	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/index"
	"github.com/gokmod/modprobe/internal/kernel"
)

// Options configure a Loader. The zero value reads the running system the
// way modprobe does.
type Options struct {
	// RootDir is the filesystem root the module tree is found under, as
	// modprobe -d: the module directory is RootDir/lib/modules/RELEASE.
	// Empty means "/".
	RootDir string
	// KernelRelease selects the module directory, as modprobe -S. Empty
	// means the running kernel's release, read from ProcDir or uname(2).
	KernelRelease string
	// ModuleDir, if set, is the module directory itself and overrides
	// RootDir and KernelRelease. A relative path is made absolute.
	ModuleDir string
	// ConfigPaths are the modprobe.d directories or single files to read,
	// in precedence order, as repeated modprobe -C options. nil means
	// DefaultConfigPaths; an empty non-nil slice reads no configuration
	// files (modules.softdep and the kernel command line are still read,
	// as kmod does).
	ConfigPaths []string
	// SysfsDir is where sysfs is mounted; empty means "/sys".
	SysfsDir string
	// ProcDir is where procfs is mounted; empty means "/proc". The kernel
	// command line is read from ProcDir/cmdline.
	ProcDir string
	// Logger receives the messages kmod would print while reading the
	// configuration and indexes, with kmod's wording. nil discards them.
	Logger *slog.Logger
	// Compat selects the kmod release to match where releases differ.
	// The zero value follows current kmod.
	Compat Compat
}

// Compat selects which kmod release a Loader matches where kmod releases
// behave differently.
type Compat int

const (
	// CompatLatest follows current kmod (34): modprobe.d has the weakdep
	// directive and the module directory's modules.weakdep is read,
	// *.alias files in modprobe.d directories are ignored, a backslash
	// at the very end of a file is dropped, and /usr/lib/modprobe.d is a
	// default directory.
	CompatLatest Compat = iota
	// CompatKmod30 follows kmod 30, the release of Debian 12: no weakdep
	// (a weakdep line is a bad line), *.alias files are read, a final
	// backslash leaves a 0xff byte in the line, and /usr/lib/modprobe.d
	// is not searched.
	CompatKmod30
)

func (c Compat) dialect() config.Dialect {
	if c == CompatKmod30 {
		return config.Kmod30
	}
	return config.Latest
}

// DefaultConfigPaths returns the modprobe.d directories kmod reads when no
// configuration path is given, in precedence order, for the given
// release.
func DefaultConfigPaths(c Compat) []string {
	return config.DefaultPaths(c.dialect())
}

// Loader resolves module names and plans loads for one module directory and
// configuration. It reads the configuration when it is opened and the
// indexes on first use, and takes the module tree as it then was: after
// depmod rewrites the indexes or modprobe.d changes, open a new Loader.
// It is safe for concurrent use.
type Loader struct {
	moduleDir string
	sysfs     string
	cfg       *config.Config
	conf      confIndex
	log       logger

	idxOnce sync.Once
	idx     *index.Set

	// stats remembers, per module file, whether it exists: like the
	// indexes, the tree is taken as it was when first read.
	stats sync.Map // string -> error
}

// statFile reports whether the module file at path exists, as libkmod's
// stat() of each dependency does, once per path for the Loader's life.
func (l *Loader) statFile(path string) error {
	if v, ok := l.stats.Load(path); ok {
		err, _ := v.(error)
		return err
	}
	err := fileio.Exists(path)
	l.stats.Store(path, err)
	return err
}

// Open reads the configuration and returns a Loader. Indexes are opened on
// first use. Open fails only when the kernel release cannot be determined.
func Open(opts Options) (*Loader, error) {
	dir, err := moduleDir(opts)
	if err != nil {
		return nil, err
	}
	l := &Loader{
		moduleDir: dir,
		sysfs:     or(opts.SysfsDir, "/sys"),
		log:       logger{opts.Logger},
	}
	l.cfg = config.Load(config.Source{
		ModuleDir: dir,
		Paths:     opts.ConfigPaths,
		Cmdline:   filepath.Join(or(opts.ProcDir, "/proc"), "cmdline"),
		Dialect:   opts.Compat.dialect(),
	}, l.log.configDiag)
	l.indexConfig()
	return l, nil
}

// indexConfig builds the lookup structures over the configuration.
func (l *Loader) indexConfig() {
	c := l.cfg
	l.conf = confIndex{
		aliases:  newPatternIndex(len(c.Aliases), func(i int) string { return c.Aliases[i].Pattern }),
		install:  newPatternIndex(len(c.Install), func(i int) string { return c.Install[i].Module }),
		remove:   newPatternIndex(len(c.Remove), func(i int) string { return c.Remove[i].Module }),
		softdeps: newPatternIndex(len(c.Softdeps), func(i int) string { return c.Softdeps[i].Module }),
		options:  map[string][]int{},
		black:    map[string]bool{},
	}
	for i, o := range c.Options {
		if o.Options != "" {
			l.conf.options[o.Module] = append(l.conf.options[o.Module], i)
		}
	}
	for _, b := range c.Blacklist {
		l.conf.black[b.Module] = true
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// moduleDir computes the module directory as kmod does: the given
// directory, or ROOT/lib/modules/RELEASE, made absolute against the
// working directory without cleaning it.
func moduleDir(opts Options) (string, error) {
	dir := opts.ModuleDir
	if dir == "" {
		rel := opts.KernelRelease
		if rel == "" {
			var err error
			rel, err = runningRelease(or(opts.ProcDir, "/proc"))
			if err != nil {
				return "", err
			}
		}
		dir = opts.RootDir + "/lib/modules/" + rel
		// modprobe builds this path in a PATH_MAX buffer, which cuts it.
		if (opts.RootDir != "" || opts.KernelRelease != "") && len(dir) > pathMax-1 {
			dir = dir[:pathMax-1]
		}
	}
	if !strings.HasPrefix(dir, "/") {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("module directory %s: %w", dir, err)
		}
		dir = wd + "/" + dir
	}
	return dir, nil
}

// runningRelease returns the running kernel's release from procfs, or from
// uname(2) when procfs does not have it.
func runningRelease(proc string) (string, error) {
	if b, err := fileio.ReadFile(filepath.Join(proc, "sys/kernel/osrelease"), 256); err == nil {
		if rel := strings.TrimSpace(string(b)); rel != "" {
			return rel, nil
		}
	}
	rel, err := kernel.Release()
	if err != nil {
		return "", fmt.Errorf("cannot determine the kernel release: %w", err)
	}
	return rel, nil
}

// ModuleDir returns the module directory the Loader reads.
func (l *Loader) ModuleDir() string { return l.moduleDir }

// indexes returns the module indexes, opening them on first use.
func (l *Loader) indexes() *index.Set {
	l.idxOnce.Do(func() { l.idx = index.Load(l.moduleDir, l.log.indexDiag) })
	return l.idx
}

// Close releases the indexes. The Loader must not be used afterwards.
func (l *Loader) Close() error {
	var err error
	l.idxOnce.Do(func() {})
	if l.idx != nil {
		err = l.idx.Close()
	}
	return err
}

// errf wraps a sentinel in a ModuleError.
func errf(op, name, path string, err error) error {
	return &ModuleError{Op: op, Module: name, Path: path, Err: err}
}
