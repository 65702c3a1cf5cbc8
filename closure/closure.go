package closure

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/elfmod"
)

// Reason says why a file is in the closure.
type Reason int

// Reasons for a file.
const (
	// Requested: a module one of the names resolved to.
	Requested Reason = iota
	// Dependency: a modules.dep dependency of a module in the closure.
	Dependency
	// Softdep: a module a softdep directive pulls in (pre or post), or a
	// dependency of one; modprobe loads it but a failure is not fatal.
	Softdep
	// Weakdep: a weak dependency of a module in the closure, or a
	// module that one needs; kmod never loads it.
	Weakdep
	// Firmware: a firmware file a module in the closure names.
	Firmware
)

// String returns the reason's word: "requested", "dependency",
// "softdep", "weakdep" or "firmware".
func (r Reason) String() string {
	switch r {
	case Requested:
		return "requested"
	case Dependency:
		return "dependency"
	case Softdep:
		return "softdep"
	case Weakdep:
		return "weakdep"
	case Firmware:
		return "firmware"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// File is one file of the closure.
type File struct {
	// Path is the file: a module file as modules.dep names it under the
	// Loader's module directory, or a firmware file under one of the
	// firmware directories (a symbolic link is given as found, not
	// resolved: an image keeps the link and its target).
	Path   string
	Reason Reason
	// Module is the module's name; for a firmware file, the module that
	// names it (the first one, when several do).
	Module string
	// Firmware is the name as the module's firmware= entry gives it, for
	// a firmware file.
	Firmware string
}

// Command is an install command modprobe would run instead of inserting a
// module of the closure.
type Command struct {
	Module  string `json:"module"`
	Command string `json:"command"`
}

// MissingFirmware is a firmware= entry of a module in the closure that
// no firmware directory holds (many drivers name firmware for hardware
// variants that a distribution does not ship).
type MissingFirmware struct {
	Module string `json:"module"`
	Name   string `json:"name"`
}

// Result is the closure of a set of names.
type Result struct {
	// Files are the module files in the order modprobe would insert them
	// (each once, where it first appears), then the firmware files in
	// the order the modules name them.
	Files []File
	// Builtin lists the modules of the closure built into the kernel.
	Builtin []string
	// Commands lists the install commands of modules in the closure.
	Commands []Command
	// Blacklisted lists the modules an alias resolved to that the
	// blacklist skips, as modprobe skips them.
	Blacklisted []string
	// NoFile lists the modules that neither have a file nor are builtin
	// (an alias to a module that does not exist).
	NoFile []string
	// MissingFirmware lists the firmware entries found nowhere.
	MissingFirmware []MissingFirmware
	// BadFirmware lists firmware entries that are not a relative name
	// below a firmware directory ("../x" or "/etc/x"); they are never
	// looked up.
	BadFirmware []MissingFirmware
}

// Options adjust a closure.
type Options struct {
	// FirmwareDirs is the firmware search path, in order. Nil means
	// DefaultFirmwareDirs for the kernel release under the root of the
	// Loader's module tree, after FirmwareClassPath; an empty non-nil
	// slice looks for no firmware.
	FirmwareDirs []string
	// FirmwareClassPath is searched before the default directories, as
	// the kernel's firmware_class.path= parameter is.
	FirmwareClassPath string
	// FirmwareSuffixes are the compressed forms of a firmware file looked
	// for after the plain one, in order. Nil means what the kernel's
	// configuration (RootDir/boot/config-RELEASE) enables, or both
	// ".zst" and ".xz" when it cannot be read.
	FirmwareSuffixes []string
	// RootDir and KernelRelease place the default firmware directories
	// and kernel configuration, as the Loader's Options do for modules.
	// Empty, they come from the Loader's module directory when it is
	// ROOT/lib/modules/RELEASE (the usual case), else root is "/".
	RootDir, KernelRelease string
	// MaxModuleSize bounds each module image read for its firmware
	// entries (zero: modprobe.DefaultMaxModuleSize).
	MaxModuleSize int64
}

// ErrModule is wrapped by the error for a module file whose firmware
// entries cannot be read (not a module, or larger than MaxModuleSize).
var ErrModule = errors.New("cannot read the module's firmware entries")

// Compute returns the closure of names under l: for each name, what
// modprobe -D name would insert, with weak dependencies and firmware
// added. A name that resolves to nothing fails with the Loader's error
// (wrapping modprobe.ErrNotFound), naming it; nothing is returned then.
func Compute(ctx context.Context, l *modprobe.Loader, names []string, opts Options) (*Result, error) {
	c := &collector{ctx: ctx, l: l, res: &Result{}, seen: map[string]bool{}, planned: map[string]bool{}, other: map[string]bool{}}
	for _, name := range names {
		if err := c.addName(name, Requested); err != nil {
			return nil, err
		}
	}
	if err := c.addFirmware(opts); err != nil {
		return nil, err
	}
	return c.res, nil
}

// collector builds a Result.
type collector struct {
	ctx     context.Context
	l       *modprobe.Loader
	res     *Result
	seen    map[string]bool // module files added, by module name
	planned map[string]bool // names planned, with their reason
	other   map[string]bool // builtin, blacklisted, no-file and command entries listed
	mods    []File          // the module files, for the firmware pass
}

// addName adds what a modprobe of name inserts; top is Requested for a
// caller's name and Weakdep for a weak dependency.
func (c *collector) addName(name string, top Reason) error {
	key := top.String() + "\x00" + name
	if c.planned[key] {
		return nil
	}
	c.planned[key] = true
	plan, err := c.l.Plan(c.ctx, name, nil, modprobe.PlanOptions{IgnoreLoaded: true})
	if err != nil {
		return err
	}
	for _, pr := range plan.Probes {
		if pr.Skip == modprobe.SkipBlacklisted {
			c.note(&c.res.Blacklisted, "blacklisted", pr.Module.Name)
			continue
		}
		for _, a := range pr.Actions {
			if err := c.addAction(a, reasonFor(a, top)); err != nil {
				return err
			}
		}
	}
	return nil
}

// reasonFor returns why the module of action a is in the closure, when
// the plan it is part of was made for a name of reason top: everything a
// weak dependency needs is there for it.
func reasonFor(a modprobe.Action, top Reason) Reason {
	switch {
	case a.Requested || top != Requested:
		return top
	case a.Required:
		return Dependency
	}
	return Softdep
}

// addAction adds the file of one action of a plan, there for reason.
func (c *collector) addAction(a modprobe.Action, reason Reason) error {
	switch a.Kind {
	case modprobe.ActionInsert:
		if c.seen[a.Module] {
			return nil
		}
		c.seen[a.Module] = true
		f := File{Path: a.Path, Reason: reason, Module: a.Module}
		c.res.Files = append(c.res.Files, f)
		c.mods = append(c.mods, f)
		return c.addWeakdeps(a.Module)
	case modprobe.ActionBuiltin:
		c.note(&c.res.Builtin, "builtin", a.Module)
		return c.addWeakdeps(a.Module)
	case modprobe.ActionNoFile:
		c.note(&c.res.NoFile, "nofile", a.Module)
	case modprobe.ActionInstall:
		if !c.other["install\x00"+a.Module] {
			c.other["install\x00"+a.Module] = true
			c.res.Commands = append(c.res.Commands, Command{Module: a.Module, Command: a.Command})
		}
		return c.addCommandModule(a.Module, reason)
	}
	return nil
}

// addCommandModule adds the file and dependencies of a module that has an
// install command, as a modprobe that ignores the command would insert
// them.
func (c *collector) addCommandModule(name string, reason Reason) error {
	key := "cmd\x00" + name
	if c.planned[key] {
		return nil
	}
	c.planned[key] = true
	plan, err := c.l.Plan(c.ctx, name, nil, modprobe.PlanOptions{IgnoreLoaded: true, IgnoreCommands: true})
	if err != nil {
		return nil // the command may stand for a module with no file
	}
	for _, pr := range plan.Probes {
		for _, a := range pr.Actions {
			if a.Kind != modprobe.ActionInsert && a.Kind != modprobe.ActionBuiltin {
				continue
			}
			r := reason
			if !a.Requested && reason != Weakdep {
				r = Dependency
			}
			if err := c.addAction(a, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// addWeakdeps adds what the weak dependencies of module need.
func (c *collector) addWeakdeps(module string) error {
	weak, err := c.l.Weakdeps(c.ctx, module)
	if err != nil {
		return err
	}
	for _, w := range weak {
		if err := c.addName(w.Name, Weakdep); err != nil && !errors.Is(err, modprobe.ErrNotFound) {
			return err
		}
	}
	return nil
}

// note appends name to list once.
func (c *collector) note(list *[]string, kind, name string) {
	if !c.other[kind+"\x00"+name] {
		c.other[kind+"\x00"+name] = true
		*list = append(*list, name)
	}
}

// addFirmware adds the firmware files the module files name.
func (c *collector) addFirmware(opts Options) error {
	root, release := rootOf(c.l.ModuleDir())
	if opts.RootDir != "" {
		root = opts.RootDir
	}
	if opts.KernelRelease != "" {
		release = opts.KernelRelease
	}
	dirs := opts.FirmwareDirs
	if dirs == nil {
		if opts.FirmwareClassPath != "" {
			dirs = append(dirs, opts.FirmwareClassPath)
		}
		dirs = append(dirs, DefaultFirmwareDirs(root, release)...)
	}
	if len(dirs) == 0 {
		return nil
	}
	suffixes := opts.FirmwareSuffixes
	if suffixes == nil {
		var ok bool
		if suffixes, ok = KernelFirmwareSuffixes(filepath.Join(root, "/boot/config-"+release)); !ok {
			suffixes = []string{".zst", ".xz"}
		}
	}
	found := map[string]bool{}
	for _, m := range c.mods {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		names, err := firmwareOf(m.Path, opts.MaxModuleSize)
		if err != nil {
			return err
		}
		for _, name := range names {
			if found[name] {
				continue
			}
			found[name] = true
			if !validFirmwareName(name) {
				c.res.BadFirmware = append(c.res.BadFirmware, MissingFirmware{Module: m.Module, Name: name})
				continue
			}
			p := findFirmware(dirs, suffixes, name)
			if p == "" {
				c.res.MissingFirmware = append(c.res.MissingFirmware, MissingFirmware{Module: m.Module, Name: name})
				continue
			}
			c.res.Files = append(c.res.Files, File{Path: p, Reason: Firmware, Module: m.Module, Firmware: name})
		}
	}
	return nil
}

// firmwareOf returns the firmware= entries of the module file at path.
func firmwareOf(path string, maxSize int64) ([]string, error) {
	image, release, err := modprobe.MapModuleFile(path, maxSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", path, ErrModule, err)
	}
	defer release()
	m, err := elfmod.Parse(image)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", path, ErrModule, err)
	}
	kv, err := m.Modinfo()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", path, ErrModule, err)
	}
	var names []string
	for _, e := range kv {
		if e.Key == "firmware" {
			names = append(names, e.Value)
		}
	}
	return names, nil
}

// rootOf splits a module directory ROOT/lib/modules/RELEASE into its root
// ("/" when the directory is elsewhere) and release.
func rootOf(moduleDir string) (root, release string) {
	parent, release := filepath.Split(filepath.Clean(moduleDir))
	parent = filepath.Clean(parent)
	if strings.HasSuffix(parent, "/lib/modules") {
		if root = strings.TrimSuffix(parent, "/lib/modules"); root == "" {
			root = "/"
		}
		return root, release
	}
	return "/", release
}
