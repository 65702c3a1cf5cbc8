package kmodimage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gokmod/modprobe"
)

// Worker does on a node what KMM's worker does for a Module, with
// gokmod's Loader in place of an exec'd modprobe.
type Worker struct {
	// SharedDir is where the image's files are: the kmod image's
	// DIRNAME/lib/modules/KERNEL is SharedDir/DIRNAME/lib/modules/KERNEL
	// (KMM's init container copies it to /tmp; Extract writes it).
	// Empty means DefaultSharedDir.
	SharedDir string
	// FirmwarePath is the host directory firmware is copied to, and the
	// value written to firmware_class.path (the worker's
	// --firmware-path). Empty means no firmware handling: a Module with
	// a firmwarePath then fails to load.
	FirmwarePath string
	// KernelRelease is the release whose modules load; empty means the
	// running kernel's. (KMM's worker uses uname -r while its image copy
	// uses the "+"-trimmed version; this field lets the two agree.)
	KernelRelease string
	// Options are the base of every Loader the worker opens: the kernel,
	// sysfs, procfs, kernel log and modprobe.d paths. RootDir is the
	// host's root for in-tree removal ("" is "/"); the worker sets
	// RootDir, KernelRelease and Softdeps of the Loader it loads the
	// image's modules with. With LowerDirs (the host's module
	// directory, say) the image's tree is layered over them: its
	// modules need in-tree modules without copies of them in the image
	// (KMM's own worker needs the copies); in-tree removal reads the
	// host's tree alone.
	Options modprobe.Options
	// Log, if set, receives one line per action (what modprobe -v
	// prints) and per warning.
	Log func(string)
}

func (w *Worker) logf(format string, args ...any) {
	if w.Log != nil {
		w.Log(fmt.Sprintf(format, args...))
	}
}

func (w *Worker) show(a modprobe.Action) {
	if s := a.String(); s != "" {
		w.logf("%s", s)
	}
}

// DefaultSharedDir is the directory KMM's worker shares with the kmod
// image's container when none is configured.
const DefaultSharedDir = "/tmp"

func (w *Worker) sharedDir() string { return cmp.Or(w.SharedDir, DefaultSharedDir) }

// moduleRoot returns SharedDir/dirName, the root of the image's module
// tree.
func (w *Worker) moduleRoot(m *ModprobeSpec) string {
	return filepath.Join(w.sharedDir(), m.dirName())
}

// Load does what KMM's worker does to load a Module, in order, stopping
// at the first error:
//
//  1. with FirmwarePath set, write it to firmware_class.path;
//  2. remove the in-tree modules (RemoveInTree), but for one whose live
//     module is the image's own module of that name (a second Load, after
//     the worker's pod restarted): when the live module's srcversion
//     (/sys/module/NAME/srcversion) is the srcversion in the image
//     module's .modinfo, it is left loaded. Without a srcversion on either
//     side (a kernel built without CONFIG_MODULE_SRCVERSION_ALL and a
//     module without MODULE_VERSION) the two cannot be told apart and the
//     module is removed, as KMM does, then loaded again from the image
//     when it is the Module's;
//  3. with the Module's firmwarePath, copy SharedDir/firmwarePath to
//     FirmwarePath (CopyFirmware);
//  4. load: with rawArgs, run rawArgs.load as modprobe would (its -d, if
//     any, is taken as given: it names a directory of this process, not
//     SharedDir); otherwise load moduleName with its parameters from
//     SharedDir/dirName, with args.load's options and the softdeps of
//     modulesLoadingOrder, whose failures are ignored as kmod ignores
//     softdep failures. With modprobedDir, the image's modprobe.d files
//     (SharedDir/modprobedDir) are read before the worker's own
//     configuration, as KMM copies them into the worker's /etc/modprobe.d.
//
// Before the first step it checks what it can: the configuration
// (Validate), that the module directory SharedDir/dirName/lib/modules/KERNEL,
// the firmware path SharedDir/firmwarePath and SharedDir/modprobedDir lie
// inside SharedDir once symbolic links are resolved (an error wrapping
// ErrOutsideRoot), the firmware tree as CopyFirmware will copy it, and
// the modprobedDir as KMM requires it (ErrModprobedDir). A module already loaded is
// success, so Load may run again after a failure, as KMM's pods do. ctx
// is checked between modules.
func (w *Worker) Load(ctx context.Context, cfg *ModuleConfig) error {
	// Everything that can be checked is, before anything changes.
	if err := cfg.Validate(); err != nil {
		return err
	}
	m := &cfg.Modprobe
	inv, err := w.invocation(m, false)
	if err != nil {
		return err
	}
	if m.FirmwarePath != "" && w.FirmwarePath == "" {
		return fmt.Errorf("kmodimage: modprobe.firmwarePath %s is set but the worker has no firmware path", m.FirmwarePath)
	}
	firmware, err := w.firmwareSource(m, true)
	if err != nil {
		return err
	}
	confDir, err := w.modprobedDir(m)
	if err != nil {
		return err
	}
	softdeps := Softdeps(m.ModulesLoadingOrder)
	l, err := w.open(ctx, inv, softdeps, confDir)
	if err != nil {
		return err
	}
	if err := w.confineModuleDir(m, inv, l); err != nil {
		l.Close()
		return err
	}
	if m.RawArgs == nil {
		// An image built without depmod: index it (the Loader reads
		// modules.softdep when opened, so open it again after).
		dir := l.ModuleDir()
		if _, err := os.Stat(dir); err == nil && !hasIndex(dir) {
			l.Close()
			if _, err := IndexTree(ctx, filepath.Dir(filepath.Dir(filepath.Dir(dir))), filepath.Base(dir)); err != nil {
				return fmt.Errorf("%w: %s has no modules.dep and could not be indexed: %w", ErrLayout, dir, err)
			}
			w.logf("indexed %s", dir)
			if l, err = w.open(ctx, inv, softdeps, confDir); err != nil {
				return err
			}
		}
	}
	defer l.Close()
	if err := checkModuleDir(l.ModuleDir()); err != nil {
		return err
	}
	if w.FirmwarePath != "" {
		if err := SetFirmwareClassPath(w.Options.SysfsDir, w.FirmwarePath); err != nil {
			return err
		}
	}
	if err := w.removeInTree(ctx, cfg.InTreeModules(), l); err != nil {
		return err
	}
	if firmware != "" {
		if err := CopyFirmware(firmware, w.FirmwarePath); err != nil {
			return err
		}
	}
	if err := w.exec(ctx, l, inv); err != nil {
		return fmt.Errorf("failed to load module %s: %w", moduleOf(m, inv), err)
	}
	return nil
}

// Unload does what KMM's worker does to unload a Module: rawArgs.unload
// as modprobe would run it, or else the removal (modprobe -r, with
// args.unload's options) from SharedDir/dirName of modulesLoadingOrder in
// its order, or of moduleName, with the image's modprobedDir files read as
// by Load; every module is tried, and one not loaded is success. Then, with the Module's firmwarePath and FirmwarePath set,
// the firmware files it copied are removed from FirmwarePath (failures
// are logged, not returned). The configuration and its paths are checked
// first, as by Load.
func (w *Worker) Unload(ctx context.Context, cfg *ModuleConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	m := &cfg.Modprobe
	inv, err := w.invocation(m, true)
	if err != nil {
		return err
	}
	var firmware string
	if w.FirmwarePath != "" {
		if firmware, err = w.firmwareSource(m, false); err != nil {
			return err
		}
	}
	confDir, err := w.modprobedDir(m)
	if err != nil {
		return err
	}
	l, err := w.open(ctx, inv, nil, confDir)
	if err != nil {
		return err
	}
	defer l.Close()
	if err := w.confineModuleDir(m, inv, l); err != nil {
		return err
	}
	if err := w.exec(ctx, l, inv); err != nil {
		return fmt.Errorf("failed to unload module %q: %w", strings.Join(inv.Operands, " "), err)
	}
	if firmware != "" {
		for _, err := range RemoveFirmwareFiles(firmware, w.FirmwarePath) {
			w.logf("warning: %v", err)
		}
	}
	return nil
}

// firmwareSource returns the directory the Module's firmwarePath names
// below SharedDir, symbolic links resolved, or "" when it has none; a
// path that leads outside SharedDir is an error wrapping ErrOutsideRoot.
// With check, the tree is also checked as CopyFirmware will copy it.
func (w *Worker) firmwareSource(m *ModprobeSpec, check bool) (string, error) {
	if m.FirmwarePath == "" {
		return "", nil
	}
	dir, err := resolveIn(w.sharedDir(), m.FirmwarePath)
	if err == nil && check {
		err = CheckFirmware(dir)
	}
	if err != nil {
		return "", fmt.Errorf("kmodimage: modprobe.firmwarePath %s: %w", m.FirmwarePath, err)
	}
	return dir, nil
}

// confineModuleDir checks that the module directory l reads, when it is
// SharedDir/dirName/lib/modules/KERNEL (not a -d given in rawArgs or
// args, which is taken as given), lies inside SharedDir once symbolic
// links are resolved: before the worker indexes it (which writes files
// there) or loads from it.
func (w *Worker) confineModuleDir(m *ModprobeSpec, inv Invocation, l *modprobe.Loader) error {
	if m.RawArgs != nil || inv.Root != w.moduleRoot(m) {
		return nil
	}
	rel, err := filepath.Rel(w.sharedDir(), l.ModuleDir())
	if err != nil {
		return err
	}
	if _, err := resolveIn(w.sharedDir(), rel); err != nil {
		return fmt.Errorf("kmodimage: modprobe.dirName %s: %w", m.dirName(), err)
	}
	return nil
}

// moduleOf names the module of a load in errors.
func moduleOf(m *ModprobeSpec, inv Invocation) string {
	if m.ModuleName != "" {
		return m.ModuleName
	}
	return strings.Join(inv.Operands, " ")
}

// invocation builds the modprobe run of a load or an unload, as KMM's
// worker builds its modprobe command line.
func (w *Worker) invocation(m *ModprobeSpec, unload bool) (Invocation, error) {
	if m.RawArgs != nil {
		raw, field := m.RawArgs.Load, "rawArgs.load"
		if unload {
			raw, field = m.RawArgs.Unload, "rawArgs.unload"
		}
		inv, err := ParseArgs(raw)
		if err != nil {
			return Invocation{}, fmt.Errorf("modprobe.%s: %w", field, err)
		}
		if len(inv.Operands) == 0 {
			return Invocation{}, fmt.Errorf("modprobe.%s: %w: no module named", field, ErrBadArgs)
		}
		if inv.Remove != unload {
			return Invocation{}, fmt.Errorf("modprobe.%s: %w: -r must be given to unload, and only then", field, ErrBadArgs)
		}
		return inv, nil
	}
	var args []string
	field := "args.load"
	if unload {
		field = "args.unload"
	}
	if m.Args != nil {
		args = m.Args.Load
		if unload {
			args = m.Args.Unload
		}
	}
	inv, err := ParseArgs(args)
	if err != nil {
		return Invocation{}, fmt.Errorf("modprobe.%s: %w", field, err)
	}
	if len(inv.Operands) > 0 {
		return Invocation{}, fmt.Errorf("modprobe.%s: %w: %q is not an option; args hold options only (the module goes in moduleName, its parameters in parameters)", field, ErrBadArgs, inv.Operands[0])
	}
	if inv.Remove && !unload {
		return Invocation{}, fmt.Errorf("modprobe.%s: %w: -r", field, ErrBadArgs)
	}
	if !inv.RootSet {
		inv.Root, inv.RootSet = w.moduleRoot(m), true
	}
	if unload {
		inv.Remove = true
		inv.Operands = m.ModulesLoadingOrder
		if len(inv.Operands) == 0 {
			inv.Operands = []string{m.ModuleName}
		}
	} else {
		inv.Operands = append([]string{m.ModuleName}, m.Parameters...)
	}
	return inv, nil
}

// open opens a Loader on the module tree of a modprobe invocation, with
// the image's modprobe.d directory confDir, if any, read first.
func (w *Worker) open(ctx context.Context, inv Invocation, softdeps []modprobe.Softdep, confDir string) (*modprobe.Loader, error) {
	opts := w.Options
	opts.ModuleDir = ""
	opts.RootDir = inv.Root
	opts.KernelRelease = w.KernelRelease
	if inv.KernelRelease != "" {
		opts.KernelRelease = inv.KernelRelease
	}
	if inv.ConfigPaths != nil {
		opts.ConfigPaths = inv.ConfigPaths
	}
	if confDir != "" {
		// KMM copies the files into the worker's /etc/modprobe.d, the
		// directory read first: here the image's directory comes first.
		base := opts.ConfigPaths
		if base == nil {
			base = modprobe.DefaultConfigPaths(opts.Compat)
		}
		opts.ConfigPaths = append([]string{confDir}, base...)
	}
	opts.Softdeps = append(append([]modprobe.Softdep(nil), opts.Softdeps...), softdeps...)
	return modprobe.OpenContext(ctx, opts)
}

// exec runs a modprobe invocation with l.
func (w *Worker) exec(ctx context.Context, l *modprobe.Loader, inv Invocation) error {
	switch {
	case inv.Remove:
		ro := inv.RemoveOpts
		ro.Show = w.show
		return l.RemoveWith(ctx, inv.Operands, ro)
	case inv.All:
		lo := inv.Load
		lo.Show = w.show
		return l.LoadAllWith(ctx, inv.Operands, lo)
	default:
		lo := inv.Load
		lo.Show = w.show
		return l.LoadWith(ctx, inv.Operands[0], inv.Operands[1:], lo)
	}
}

// RemoveInTree removes the in-tree modules an out-of-tree Module
// replaces, from the host's module tree (Options.RootDir, the worker's
// kernel release), as KMM's worker does before loading: names that match
// no module of the tree, or only builtin ones, are skipped (KMM skips
// names with no file); the others are removed as modprobe -r does, so one
// not loaded is success and one in use fails with modprobe.ErrInUse.
// Names are matched with "-" and "_" alike.
//
// RemoveInTree does not know the image: Load, which does, leaves a live
// module that came from the image (see Load).
func (w *Worker) RemoveInTree(ctx context.Context, names []string) error {
	return w.removeInTree(ctx, names, nil)
}

// removeInTree is RemoveInTree; with image, the Loader of the image's
// module tree, a name whose live module is the image's own is left.
func (w *Worker) removeInTree(ctx context.Context, names []string, image *modprobe.Loader) error {
	if len(names) == 0 {
		return nil
	}
	opts := w.Options
	opts.KernelRelease = w.KernelRelease
	opts.LowerDirs = nil // the host's tree alone
	l, err := modprobe.Open(opts)
	if err != nil {
		return fmt.Errorf("could not remove in-tree modules %s: %w", strings.Join(names, " "), err)
	}
	defer l.Close()
	var present []string
	for _, n := range names {
		mods, err := l.Lookup(ctx, n)
		if errors.Is(err, modprobe.ErrNotFound) {
			w.logf("in-tree module %s not found in %s, skipping", n, l.ModuleDir())
			continue
		}
		if err != nil {
			return fmt.Errorf("could not remove in-tree modules %s: %w", strings.Join(names, " "), err)
		}
		builtin := true
		for _, m := range mods {
			builtin = builtin && m.Builtin
		}
		if builtin {
			w.logf("in-tree module %s is builtin, skipping", n)
			continue
		}
		if image != nil {
			same, err := w.liveFromImage(ctx, n, image)
			if err != nil {
				return fmt.Errorf("could not remove in-tree modules %s: %w", strings.Join(names, " "), err)
			}
			if same != "" {
				w.logf("in-tree module %s: the live module is the image's (srcversion %s), leaving it", n, same)
				continue
			}
		}
		present = append(present, n)
	}
	if len(present) == 0 {
		return nil
	}
	if err := l.RemoveWith(ctx, present, modprobe.RemoveOptions{Show: w.show}); err != nil {
		return fmt.Errorf("could not remove in-tree modules %s: %w", strings.Join(present, " "), err)
	}
	return nil
}
