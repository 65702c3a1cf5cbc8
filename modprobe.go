// Package modprobe resolves, loads and removes Linux kernel modules with
// the semantics of kmod's modprobe, in pure Go.
//
// # Overview
//
// Open a Loader on a module tree and a configuration, then load and
// remove modules, or ask what modprobe would do:
//
//	l, err := modprobe.Open(modprobe.Options{})
//	...
//	err = l.Load(ctx, "dummy", "numdummies=3")
//	err = l.LoadAll(ctx, "ip_vs", "ip_vs_wrr")
//	err = l.Remove(ctx, "ip_vs_wrr")
//	plan, err := l.Plan(ctx, "ip_vs_wrr", nil, modprobe.PlanOptions{IgnoreLoaded: true})
//
// A Plan is computed without side effects: it reads the module indexes, the
// modprobe.d configuration, the kernel command line and (unless told not
// to) the module state in sysfs, and never touches the kernel. Load,
// LoadAll, InsertFile, Remove and RemoveModule reach the kernel through
// one seam, Options.Kernel; package modprobetest provides a fake kernel
// for tests.
//
// # Loading
//
// A load follows kmod's probe: a module already live or built in is
// success (unless FirstTime), the modules.dep closure goes in first with
// softdeps around each module, install commands run through /bin/sh with
// MODPROBE_MODULE set and $CMDLINE_OPTS replaced (the caller's parameters
// quoted for the shell unless LoadOptions.RawCmdlineOpts), a failing softdep is
// ignored, a failing dependency stops the probe, and EEXIST from a
// concurrent loader counts as success. A plain .ko always goes to
// finit_module, so that the kernel sees the file (LoadPin, IMA). A
// compressed module (gzip, xz or zstd, detected by magic) goes to
// finit_module with InitCompressedFile when /sys/module/compression names
// its format and nothing in the file is known to stop the kernel's
// decompressor (an xz check other than CRC32, as CRC64); otherwise the
// Loader decompresses it, within Options.MaxModuleSize, and uses
// init_module. A module's init function runs at most once per insert:
// init_module follows finit_module only when the kernel certainly loaded
// nothing (no finit_module at all, or its decompressor's failure in the
// kernel log), never after an answer that may be the init's own. A
// failed insert carries the kernel's log lines about the module (from
// /dev/kmsg) in its error.
//
// # Consumers
//
// Packages kata and isula read what container runtimes ask for (Kata
// Containers' kernel_modules in configuration.toml and its annotation,
// iSulad's KERNEL_MODULES in a container's environment) into Request
// lists, and load them with each runtime's semantics: Kata's in order up
// to the first failure, iSulad's as modprobe -a. The gokmod commands kata
// and oci-hook (an OCI prestart hook) do the same from the command line.
// Package kmodimage is Kubernetes Kernel Module Management's worker: kernel
// mappings, the worker's configuration, kmod images pulled and extracted
// safely, in-tree module removal, firmware, and the load and unload of a
// Module (gokmod kmm).
//
// # Concurrency
//
// A Loader is safe for concurrent use. Concurrent loads of overlapping
// sets give each module to the kernel once: one caller inserts, the others
// wait for it. With LoadOptions.Jobs above 1, the independent modules of a
// probe and of LoadAllWith load in parallel, each after the modules it
// depends on.
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
// The Loader's methods return *ModuleError values wrapping a sentinel or
// the kernel's errno (test with errors.Is, for instance errors.Is(err,
// syscall.ENOEXEC)); their Op says which step failed (OpInsert, OpRemove
// and the other Op constants), KernelLog what the kernel logged about it,
// and Failures splits an error that joins several (LoadAll's) into one
// *ModuleError per failing module. The sentinels:
//
//	ErrNotFound       nothing matches the name
//	ErrBadName        the name is unusable: an unmatched bracket, a NUL
//	                  byte, or (for Load) a leading '-' or a '/'
//	ErrBadParams      a parameter holds a newline or a NUL byte, or
//	                  starts with '-' (unless LoadOptions.RawCmdlineOpts)
//	ErrAlreadyLoaded  a first-time load found the module already loaded
//	ErrNotLoaded      a first-time removal found the module not loaded
//	ErrBuiltin        a builtin module cannot be removed
//	ErrInUse          the module is in use
//	ErrCommandFailed  an install or remove command failed (*CommandError)
//	ErrTooLarge       a module decompresses past Options.MaxModuleSize
//	ErrClosed         the Loader was closed
//
// Problems in the configuration or the indexes are not errors: like kmod,
// the Loader logs them (see Options.Logger) and goes on without the bad
// line or index.
//
// # Paths
//
// Every host path the Loader reads comes from Options: the module tree,
// the modprobe.d directories, sysfs and procfs. Tests and tools can point
// them anywhere. As with modprobe -d, RootDir moves only the module tree:
// modprobe.d, sysfs and procfs keep their own options.
//
// # Compatibility
//
// Options.Compat selects the kmod release to match where releases differ:
// kmod 34.2 (Debian 13) by default, or kmod 30 (Debian 12); gokmod's
// differential tests compare its output with each byte for byte. Beyond
// kmod, the Loader reads depmod's text files when a binary index is
// missing.
//
// # Security
//
// The module tree, modprobe.d and the kernel command line belong to the
// system's administrator, as they do for kmod: the Loader does what they
// say (an install command in modprobe.d is a command the administrator
// chose). What it defends against is damage: a truncated, corrupt or
// hostile index, configuration file or name never makes it panic or loop.
// Index reads are bounds-checked, a walk reads at most the index's size in
// node bytes and never descends below a key of PATH_MAX bytes, text
// indexes and configuration files are read up to 64 MiB each and only from
// regular files (configuration may also be a device, as kmod allows for
// masking with /dev/null), and names with a NUL byte or unmatched brackets
// are refused with ErrBadName. Work stays proportional to the size of the
// input. Planning has no side effects. Load refuses names that could be
// options or paths and parameters that would smuggle in more parameters,
// gives install commands the caller's parameters as quoted words of data
// (never shell syntax, unless LoadOptions.RawCmdlineOpts says they are an
// administrator's), decompresses within a size cap, and stops at the
// first failing step.
// Checking signatures and enforcing lockdown is left to the kernel.
//
// A container's environment and annotations are not the administrator's:
// the image's author or the container's user writes them. The adapters
// (packages kata and isula) therefore refuse module names and parameters
// that a modprobe command line would take as options ("-r", "-d DIR"),
// names holding "/", and unbalanced quotes, before anything loads. A kmod
// image is its author's: package kmodimage writes only its module and
// firmware directories, through an os.Root, refusing traversal, escaping
// links, device nodes and oversized content. SECURITY.md at the top of
// the repository states the whole trust model.
package modprobe

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gokmod/modprobe/depmod"
	"github.com/gokmod/modprobe/internal/config"
	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/index"
	"github.com/gokmod/modprobe/internal/kernel"
	"github.com/gokmod/modprobe/internal/modfile"
	"github.com/gokmod/modprobe/internal/modname"
)

// Options configure a Loader. The zero value reads the running system the
// way modprobe does.
type Options struct {
	// RootDir is the filesystem root the module tree is found under, as
	// modprobe -d: the module directory is RootDir/lib/modules/RELEASE.
	// Empty means "/". Only the module tree moves: configuration, sysfs
	// and procfs have their own options.
	RootDir string
	// KernelRelease selects the module directory, as modprobe -S. Empty
	// means the running kernel's release, read from ProcDir or uname(2).
	KernelRelease string
	// ModuleDir, if set, is the module directory itself and overrides
	// RootDir and KernelRelease. A relative path is made absolute.
	ModuleDir string
	// LowerDirs are module directories under the module directory, in
	// precedence order, making one layered tree of them all: a KMM
	// image's tree over the host's, system extensions over a base. A
	// module name found in an upper directory hides every module of
	// that name in the lower ones, whatever their paths; nothing is
	// written to any of them. The Loader indexes the union in memory
	// when it is opened, with package depmod over every layer's module
	// files (the layers' own .bin indexes are not read: a module of
	// one layer may need a symbol of another, which only the modules
	// themselves tell), so Open reads every module of every layer, as
	// depmod does; a program that opens one Loader pays it once. Its
	// lookups, plans and loads are then those modprobe makes over a
	// directory holding each winning module at its path in its layer,
	// indexed by depmod, with the layers' modules.order files one after
	// the other, and modules.builtin and modules.builtin.modinfo from
	// the first layer that has them. Paths of the module directory's
	// modules show as usual; the lower layers' modules are named by
	// their full paths. Relative paths are made absolute.
	LowerDirs []string
	// LayerCache, if set, keeps what indexing a layered tree read of
	// each module file, for the next Loader opened with it: a program
	// that opens layered Loaders again (a KMM worker after an image
	// changed) reads again only the files that changed (see
	// depmod.ModuleCache).
	LayerCache *depmod.ModuleCache
	// ConfigPaths are the modprobe.d directories or single files to read,
	// in precedence order, as repeated modprobe -C options. nil means
	// DefaultConfigPaths(Compat); an empty non-nil slice reads no
	// configuration files (modules.softdep and the kernel command line
	// are still read, as kmod does).
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
	// The zero value follows kmod 34.2 (CompatKmod34, CompatLatest).
	Compat Compat

	// Kernel receives the module system calls. nil means the running
	// kernel's (see Kernel for how the calls are made, and RawKernel
	// for short-lived programs); modprobetest provides a fake one.
	Kernel Kernel
	// KmsgPath is the kernel log read after a failed insert, so that the
	// error can carry the kernel's reason; empty means /dev/kmsg. A log
	// that cannot be opened is not an error.
	KmsgPath string
	// MaxModuleSize caps the size of a decompressed module; zero means
	// DefaultMaxModuleSize. A larger module fails with ErrTooLarge.
	MaxModuleSize int64
	// Stdout and Stderr receive the output of install and remove
	// commands; nil means the process's own, as for kmod's system(3).
	Stdout, Stderr io.Writer
	// Softdeps are soft dependencies given by the program rather than a
	// modprobe.d file (KMM's modulesLoadingOrder, say). They come before
	// every file's softdep lines, and since a module's first matching
	// softdep is the one used, they win over modprobe.d and
	// modules.softdep.
	Softdeps []Softdep
	// Deny names modules that must never be inserted, by any path: a
	// load of the name or of an alias, a modules.dep dependency, a
	// softdep, an install command of the module, InsertFile of its file.
	// Each entry is a module name or a modprobe.d-style pattern ("snd_*"),
	// matched against normalized module names ('-' and '_' alike). A
	// load that needs a denied module fails with ErrDenied before it
	// inserts anything; a denied softdep is left out, as a softdep that
	// fails is. kmod's blacklist, by contrast, only hides aliases. An
	// install command runs with GOKMOD_DENY set to the list, which a
	// gokmod modprobe it runs honours (kmod's does not: see SECURITY.md).
	// gokmod's tools add the host's deny list file (DenyFile); a program
	// that wants the same policy adds ReadDenyFile's entries.
	Deny []string
}

// Softdep is a soft dependency, as a "softdep MODULE pre: PRE... post:
// POST..." line of modprobe.d states it: loading MODULE loads the Pre
// modules before it and the Post modules after it, and a failure of
// either is ignored. MODULE may be a pattern, as in modprobe.d.
type Softdep struct {
	Module    string
	Pre, Post []string
}

// DefaultMaxModuleSize is the largest decompressed module a Loader
// accepts unless Options.MaxModuleSize says otherwise.
const DefaultMaxModuleSize = modfile.DefaultMaxModuleSize

// Compat selects which kmod release a Loader matches where kmod releases
// behave differently. The zero value, CompatKmod34, follows the newest kmod
// release gokmod follows; CompatLatest names it too. Only released kmod
// versions are followed, never a development commit. Its String method
// returns the GOKMOD_COMPAT word: "kmod34" or "kmod30". (The type is
// declared in an internal package so that package depmod, which the
// Loader uses for layered trees, can name it without importing this one.)
type Compat = config.Dialect

const (
	// CompatKmod34 follows kmod 34.2, the release of Debian 13 and the
	// default: modprobe.d has the weakdep directive and the module
	// directory's modules.weakdep is read, *.alias files in modprobe.d
	// directories are ignored, a backslash at the very end of a file is
	// dropped, and /usr/lib/modprobe.d is a default directory.
	CompatKmod34 Compat = config.Latest
	// CompatKmod30 follows kmod 30, the release of Debian 12: no weakdep
	// (a weakdep line is a bad line), *.alias files are read, a final
	// backslash leaves a 0xff byte in the line, and /usr/lib/modprobe.d
	// is not searched.
	CompatKmod30 Compat = config.Kmod30
)

// CompatLatest is the newest released kmod gokmod follows: kmod 34.2
// today. Callers that want to follow kmod as gokmod upgrades use it (or
// the zero value); callers that need one release's behaviour name it.
const CompatLatest = CompatKmod34

// DefaultConfigPaths returns the modprobe.d directories kmod reads when no
// configuration path is given, in precedence order, for the given
// release.
func DefaultConfigPaths(c Compat) []string {
	return config.DefaultPaths(c)
}

// Loader resolves module names and plans loads for one module directory and
// configuration. It reads the configuration when it is opened and the
// indexes on first use, and takes the module tree as it then was: after
// depmod rewrites the indexes or modprobe.d changes, open a new Loader.
// Its methods may be called concurrently, except Close, which must come
// after every other call has returned. With the running kernel (the
// default Options.Kernel), each module system call blocks the Go
// runtime's preemption signal, SIGURG, on the calling goroutine's OS
// thread for its duration, and nothing else of the process's signal
// state changes: see Kernel.
type Loader struct {
	moduleDir string
	layers    []string // the layered tree's directories; nil for one
	sysfs     string
	cfg       *config.Config
	conf      confIndex
	deny      *denyList // nil: nothing denied
	log       logger

	idxOnce sync.Once
	idx     *index.Set
	// unmap releases idx's mappings if the Loader is dropped without
	// Close; Close stops it.
	unmap  runtime.Cleanup
	closed atomic.Bool

	// stats remembers, per module file, whether it exists: like the
	// indexes, the tree is taken as it was when first read.
	stats sync.Map // string -> error
	// depFiles remembers, per modules.dep entry (a path relative to
	// moduleDir), its absolute path and whether it exists: the same
	// dependency is on the lines of many modules, and a Loader plans
	// many requests.
	depFiles sync.Map // string -> *depEntry

	kern           Kernel
	proc           string
	kmsgPath       string
	maxModuleSize  int64
	stdout, stderr io.Writer
	compat         Compat

	compOnce sync.Once
	kernComp modfile.Compression // what /sys/module/compression names
	offers   compressedOffers    // compressed files offered to the kernel, in flight

	flights flights      // inserts in progress, by module name
	runs    atomic.Int32 // loads in progress
}

// Open reads the configuration and returns a Loader; indexes are opened on
// first use. Open fails when the module directory cannot be determined:
// the kernel release is unknown, or a relative path cannot be made
// absolute. It is OpenContext with context.Background().
func Open(opts Options) (*Loader, error) {
	return OpenContext(context.Background(), opts)
}

// OpenContext is Open with a context, which only a layered tree
// (Options.LowerDirs) uses: indexing it reads every module of every
// layer, and ends when ctx does. A layered tree that cannot be indexed
// (a layer that cannot be read, modules that depend on each other in a
// cycle) fails with a *ModuleError naming the module directory.
func OpenContext(ctx context.Context, opts Options) (*Loader, error) {
	dir, err := moduleDir(opts)
	if err != nil {
		return nil, err
	}
	l := &Loader{
		moduleDir:     dir,
		sysfs:         or(opts.SysfsDir, "/sys"),
		log:           newLogger(opts.Logger),
		kern:          opts.Kernel,
		proc:          or(opts.ProcDir, "/proc"),
		kmsgPath:      or(opts.KmsgPath, "/dev/kmsg"),
		maxModuleSize: opts.MaxModuleSize,
		stdout:        opts.Stdout,
		stderr:        opts.Stderr,
		compat:        opts.Compat,
	}
	if l.kern == nil {
		l.kern = systemKernel{}
	}
	if l.maxModuleSize <= 0 {
		l.maxModuleSize = DefaultMaxModuleSize
	}
	if l.stdout == nil {
		l.stdout = os.Stdout
	}
	if l.stderr == nil {
		l.stderr = os.Stderr
	}
	softdeps, err := configSoftdeps(opts.Softdeps)
	if err != nil {
		return nil, err
	}
	var moduleFiles map[string][]byte
	if len(opts.LowerDirs) > 0 {
		if moduleFiles, err = l.indexLayers(ctx, opts.LowerDirs, opts.LayerCache); err != nil {
			return nil, err
		}
	}
	l.cfg = config.Load(config.Source{
		ModuleDir:   dir,
		ModuleFiles: moduleFiles,
		Paths:       opts.ConfigPaths,
		Cmdline:     filepath.Join(or(opts.ProcDir, "/proc"), "cmdline"),
		Dialect:     opts.Compat,
		Softdeps:    softdeps,
	}, l.log.configDiag)
	l.conf = newConfIndex(l.cfg)
	if l.deny, err = newDenyList(opts.Deny); err != nil {
		return nil, err
	}
	return l, nil
}

// configSoftdeps checks Options.Softdeps: every name must be one word of
// a modprobe.d line.
func configSoftdeps(sds []Softdep) ([]config.Softdep, error) {
	var out []config.Softdep
	for i, sd := range sds {
		for _, n := range append(append([]string{sd.Module}, sd.Pre...), sd.Post...) {
			if n == "" || strings.ContainsAny(n, " \t\n\v\f\r\x00") {
				return nil, moduleErr(OpOpen, sd.Module, "", fmt.Errorf("%w: Options.Softdeps[%d] names %q", ErrBadName, i, n))
			}
		}
		mod, err := modname.Underscores(sd.Module)
		if err != nil {
			return nil, moduleErr(OpOpen, sd.Module, "", fmt.Errorf("%w: Options.Softdeps[%d]: %v", ErrBadName, i, err))
		}
		out = append(out, config.Softdep{
			Module: mod,
			Pre:    slices.Clone(sd.Pre),
			Post:   slices.Clone(sd.Post),
			Pos:    config.Pos{File: "Options.Softdeps"},
		})
	}
	return out, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// pathMax is Linux's PATH_MAX, which bounds the paths and keys kmod builds.
const pathMax = 4096

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

// keepAlive keeps l reachable until it is called: every exported method
// defers it, so that the cleanup that unmaps a dropped Loader's indexes
// (see indexes) cannot run while a call is still reading them through a
// pool or a local variable, after its last use of l.
func (l *Loader) keepAlive() { runtime.KeepAlive(l) }

// indexes returns the module indexes, opening them on first use.
func (l *Loader) indexes(log func(error)) (*index.Set, error) {
	if l.closed.Load() {
		return nil, ErrClosed
	}
	l.idxOnce.Do(func() {
		l.idx = index.Load(l.moduleDir, log)
		l.unmap = runtime.AddCleanup(l, func(idx *index.Set) { _ = idx.Close() }, l.idx)
	})
	return l.idx, nil
}

// Close releases the indexes. Every later call fails with ErrClosed.
// A Loader that is dropped without Close releases them when the garbage
// collector finds it unreachable; Close does it at once.
func (l *Loader) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	l.idxOnce.Do(func() {})
	if l.idx != nil {
		l.unmap.Stop()
		return l.idx.Close()
	}
	return nil
}
