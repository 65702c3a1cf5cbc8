// Package depmod builds the indexes of a module tree, as kmod's depmod
// does: modules.dep, modules.alias, modules.softdep, modules.weakdep
// (kmod 34), modules.symbols, modules.devname and the binary indexes
// modprobe reads (modules.dep.bin, modules.alias.bin, modules.symbols.bin,
// modules.builtin.bin, modules.builtin.alias.bin).
//
// Options.Compat picks the kmod release to match: by default kmod 34.2
// (Debian 13's), or kmod 30 (Debian 12's). The text files are byte for
// byte those of that release's depmod; the binary files are kmod 34's
// byte for byte, and hold the same keys, values and priorities as kmod
// 30's (whose node layout differs; kmod's modprobe of every release
// reads both). Module files are read in parallel, .ko.gz ones included
// (as a kmod built with zlib reads them). depmod.d's search, override,
// external and exclude directives are honoured.
package depmod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gokmod/modprobe/internal/config"
	"github.com/gokmod/modprobe/internal/elfmod"
	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/kernel"
	"github.com/gokmod/modprobe/internal/modname"
)

// Level is a message's importance, with syslog's values, as kmod's log
// uses them.
type Level int

// The levels of messages.
const (
	LevelCrit    Level = 2
	LevelErr     Level = 3
	LevelWarning Level = 4
	LevelInfo    Level = 6
	LevelDebug   Level = 7
)

// Options say which tree to index and how, as depmod's options do.
type Options struct {
	// BaseDir is the root the tree is under (-b), an absolute path; the
	// module directory is BaseDir/lib/modules/Release (or
	// BaseDir/ModuleDirectory/Release). Empty means "/".
	BaseDir string
	// ModuleDirectory is the directory under BaseDir that holds a module
	// directory per release (kmod 34's -m); empty means "/lib/modules".
	// Leading slashes are dropped: "foo" and "/foo" are the same.
	ModuleDirectory string
	// OutDir, if set, is the root the files are written under instead
	// of BaseDir (kmod 31's -o, an absolute path): they go to
	// OutDir/lib/modules/Release (or OutDir/ModuleDirectory/Release),
	// which is created as needed.
	OutDir string
	// Release is the kernel release (VERSION); empty means the running
	// kernel's.
	Release string
	// ConfigPaths are the depmod.d directories or files (-C); nil means
	// DefaultConfigPaths().
	ConfigPaths []string
	// Symvers is a Module.symvers file whose vmlinux symbols, with their
	// CRCs, count as the kernel's (-E); it enables CRC checks.
	Symvers string
	// SystemMap is a System.map whose __ksymtab_ symbols count as the
	// kernel's (-F). Symvers wins when both are set.
	SystemMap string
	// ErrSyms reports symbols no module or the kernel provides, and CRC
	// mismatches with Symvers (-e); it needs Symvers or SystemMap.
	ErrSyms bool
	// WarnDups warns about duplicate index entries (-w).
	WarnDups bool
	// SymPrefix is the architecture's symbol prefix (-P), 0 for none.
	SymPrefix byte
	// Modules, if set, are the only module files to index (absolute
	// paths), instead of the whole tree; no depmod.d is read then.
	Modules []string
	// DryRun, if set, receives the text files, one after the other,
	// instead of their being written (-n); no binary file is built.
	DryRun io.Writer
	// OutputDir, if set, is the directory the files are written into
	// instead of the module directory, as they are (gokmod's own -o in
	// kmod 30's command line); it wins over OutDir.
	OutputDir string
	// Log receives kmod's messages; nil discards them.
	Log func(Level, string)
	// Jobs is how many module files are read at once; zero means
	// runtime.GOMAXPROCS(0).
	Jobs int
	// Quick does nothing when no module file is newer than modules.dep
	// (-A).
	Quick bool
	// Show, if set, receives what depmod -v prints: each dependency as
	// it is found.
	Show io.Writer
	// Layers, if set, are module directories indexed as one tree, in
	// precedence order: a module name found in an earlier directory
	// hides every module of that name in the later ones, whatever their
	// paths (within one directory depmod.d's search and override rules
	// choose, as usual). Nothing is written into them: Run needs
	// OutputDir or DryRun, and Indexes returns the files. The union's
	// modules.order is the layers' files one after the other, and
	// modules.builtin and modules.builtin.modinfo are the first layer's
	// that has them, so the result is depmod's over a directory that
	// holds each winning module at its path in its layer, with those
	// files. In modules.dep the first layer's modules are named by
	// their paths relative to it, the others' by their full paths (as
	// depmod names external modules), so a modprobe of the first layer
	// finds every file. BaseDir, ModuleDirectory, Release, OutDir,
	// Modules and Quick do not apply.
	Layers []string
	// Compat selects the kmod release whose depmod to match: the zero
	// value follows kmod 34.2, which also writes modules.weakdep from
	// the modules' weakdep= entries and reads /usr/lib/depmod.d;
	// modprobe.CompatKmod30 follows kmod 30. (modprobe.Compat is this
	// type: package depmod does not import package modprobe, whose
	// layered Loader runs depmod.)
	Compat config.Dialect
	// Cache, if set, keeps what is read of each module file for later
	// runs given the same Cache, and serves this run what an earlier one
	// read of a file that has not changed since (see ModuleCache).
	Cache *ModuleCache
}

// ErrCycles: modules depend on each other in a cycle; no file is written.
// The cycles are reported as kmod reports them, from the same modules;
// on the trees where kmod's report never ends (a cycle reached from
// another one), gokmod's ends.
var ErrCycles = errors.New("modules in dependency cycles")

// ErrPathTooLong: the module directory or the output directory does not
// fit in PATH_MAX bytes (kmod 34 checks; kmod 30 does not).
var ErrPathTooLong = errors.New("path too long")

// run is one depmod run.
type run struct {
	ctx     context.Context
	opts    Options
	release string
	dirname string // BaseDir/lib/modules/Release, as kmod builds it
	outdir  string // where the files go: dirname unless OutDir is set
	cfg     cfg

	root  string // the directory being searched: dirname, or a layer
	layer int    // the index of root in Options.Layers

	byName   map[string]*mod
	byUncrel map[string]*mod
	modules  []*mod
	symbols  map[string]*symbol
	owned    []*symbol          // the symbols modules own, in output order
	walked   map[[2]uint64]bool // directories searched, by device and inode
}

// mod is one module of the tree.
type mod struct {
	name       string
	path       string
	relpath    string // relative to dirname (or its layer); "" when outside it
	layer      int    // the index of its layer in Options.Layers
	uncrelpath string // relpath ending in .ko
	baselen    int    // index of the last '/' in path
	sortIdx    int
	depSortIdx int
	idx        int
	users      int
	visited    bool

	info      []elfmod.KeyValue
	exports   []elfmod.Symbol
	imports   []elfmod.Symbol
	exportErr error
	deps      []*mod
	line      string // the modules.dep line, once built
	mark      *mod   // the module whose allDeps last reached this one
}

// symbol is an exported symbol and its owner (nil for the kernel's).
type symbol struct {
	name  string
	owner *mod
	crc   uint64
}

// Run indexes the tree Options name and writes the index files.
func Run(ctx context.Context, opts Options) error {
	r := newRun(ctx, opts)
	if err := r.setRelease(); err != nil {
		return err
	}
	if opts.Layers != nil && opts.OutputDir == "" && opts.DryRun == nil {
		return fmt.Errorf("depmod: %w", ErrLayersOutput)
	}

	if opts.Quick && r.upToDate() == 1 {
		return nil
	}

	if err := r.index(); err != nil {
		return err
	}
	return r.output()
}

func newRun(ctx context.Context, opts Options) *run {
	return &run{ctx: ctx, opts: opts, byName: map[string]*mod{}, byUncrel: map[string]*mod{}, symbols: map[string]*symbol{}}
}

// index reads the kernel's symbols, finds and reads the modules and
// resolves their dependencies: everything of a run but its output.
func (r *run) index() error {
	switch {
	case r.opts.Symvers != "":
		if err := r.loadSymvers(r.opts.Symvers); err != nil {
			r.critf("could not load %s: %s", r.opts.Symvers, strerror(err))
			return err
		}
	case r.opts.SystemMap != "":
		if err := r.loadSystemMap(r.opts.SystemMap); err != nil {
			r.critf("could not load %s: %s", r.opts.SystemMap, strerror(err))
			return err
		}
	case r.opts.ErrSyms:
		r.warnf("-e needs -E or -F")
		r.opts.ErrSyms = false
	}

	if r.opts.Modules == nil || r.opts.Layers != nil {
		paths := r.opts.ConfigPaths
		if paths == nil {
			paths = DefaultConfigPaths(r.opts.Compat)
		}
		r.loadConfig(paths)
		if err := r.search(); err != nil {
			r.critf("could not search modules: %s", strerror(err))
			return err
		}
	} else {
		for _, p := range r.opts.Modules {
			if !filepath.IsAbs(p) {
				r.critf("%s: not absolute path.", p)
				return fmt.Errorf("depmod: %s: not an absolute path", p)
			}
			if _, err := os.Stat(p); err != nil {
				r.critf("could not create module %s: %s", p, strerror(err))
				return err
			}
			if err := r.add(p, modname.FromPath(p)); err != nil {
				r.critf("could not add module %s: %s", p, strerror(err))
				return err
			}
		}
	}
	r.buildArray()
	r.sort()
	if err := r.load(); err != nil {
		return err
	}
	if err := r.resolve(); err != nil {
		return err
	}
	return nil
}

// setRelease finds the release and the module directory.
func (r *run) setRelease() error {
	if r.opts.Layers != nil {
		return r.setLayers()
	}
	r.release = r.opts.Release
	if r.release == "" {
		rel, err := kernel.Release()
		if err != nil {
			r.critf("uname() failed: %s", strerror(err))
			return err
		}
		r.release = rel
	}
	// As kmod: "-b /" gives "//lib/modules/...", and the paths that
	// depend on it (external modules, messages) show it.
	r.dirname = ModuleDir(r.opts.BaseDir, r.opts.ModuleDirectory, r.release)
	r.outdir = r.dirname
	r.root = r.dirname
	if r.opts.OutDir != "" {
		r.outdir = ModuleDir(r.opts.OutDir, r.opts.ModuleDirectory, r.release)
	}
	if r.kmod30() {
		return nil
	}
	// kmod 34 builds both paths into PATH_MAX buffers and gives up on
	// one that does not fit.
	for _, d := range []string{r.dirname, r.outdir} {
		if len(d) >= pathMax {
			r.errorf("Bad directory %s: path too long", d)
			return fmt.Errorf("depmod: %s: %w", d, ErrPathTooLong)
		}
	}
	return nil
}

// ModuleDir is the module directory of release under root, spelled as
// kmod spells it: ROOT/lib/modules/RELEASE, or ROOT/MODDIR/RELEASE with
// Options.ModuleDirectory's MODDIR (leading slashes dropped). "-b /"
// gives "//lib/modules/RELEASE", as in kmod's messages.
func ModuleDir(root, moduleDirectory, release string) string {
	moddir := strings.TrimLeft(moduleDirectory, "/")
	if moduleDirectory == "" {
		moddir = "lib/modules"
	}
	return root + "/" + moddir + "/" + release
}

// kmod30 reports whether the run follows kmod 30.
func (r *run) kmod30() bool { return r.opts.Compat == config.Kmod30 }

func (r *run) jobs() int {
	if r.opts.Jobs > 0 {
		return r.opts.Jobs
	}
	return runtime.GOMAXPROCS(0)
}

func (r *run) logf(l Level, format string, args ...any) {
	if r.opts.Log != nil {
		r.opts.Log(l, fmt.Sprintf(format, args...))
	}
}

func (r *run) critf(format string, args ...any)  { r.logf(LevelCrit, format, args...) }
func (r *run) errorf(format string, args ...any) { r.logf(LevelErr, format, args...) }
func (r *run) warnf(format string, args ...any)  { r.logf(LevelWarning, format, args...) }
func (r *run) infof(format string, args ...any)  { r.logf(LevelInfo, format, args...) }
func (r *run) debugf(format string, args ...any) { r.logf(LevelDebug, format, args...) }

// maxTextSize bounds the text files depmod reads (modules.order,
// modules.builtin*, depmod.d, Module.symvers, System.map).
const maxTextSize = 64 << 20

// readText reads a text file of at most maxTextSize bytes. A FIFO or a
// socket is refused rather than waited on; a device is read as kmod reads
// it (/dev/null is an empty file), but no further than the bound.
func readText(path string) ([]byte, error) {
	data, err := fileio.ReadFile(path, maxTextSize+1)
	if err != nil {
		return nil, err
	}
	if len(data) > maxTextSize {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fileio.ErrTooLarge}
	}
	return data, nil
}
