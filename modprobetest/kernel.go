// Package modprobetest provides a fake kernel for tests of code that loads
// kernel modules with package modprobe: no root, no kernel, no real
// module loading. It works like net/http/httptest: NewKernel makes a
// kernel with its own sysfs and procfs in a temporary directory, and Open
// returns a real *modprobe.Loader wired to it.
//
// The fake reads each module image it is given, as the kernel does: the
// module's name from .gnu.linkonce.this_module (or .modinfo name=), its
// dependencies from .modinfo depends=, its parameters from parmtype=, and
// its srcversion=, which it shows in /sys/module/NAME/srcversion. It
// refuses a module whose dependencies are not live (the kernel's
// "Unknown symbol", ENOENT), a parameter the module does not declare
// (EINVAL), a second insert of a live module (EEXIST), and a removal of a
// module in use (EWOULDBLOCK); it keeps reference counts and holders in
// sysfs, writes /proc/modules and a kernel log in /dev/kmsg's format, and
// records every call. Tests script errors per module with FailInsert and
// FailRemove, or any rule with OnInsert; FailInit makes a module's init
// function fail after the kernel has loaded it, as a real module's may.
//
// With SetCompression the fake decompresses modules as Linux's
// kernel/module/decompress.c does, refusing what that refuses (an xz
// check other than none or CRC32, gzip header fields other than a name)
// with its log line and EINVAL; FailDecompress makes it refuse a given
// file the same way.
package modprobetest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gokmod/modprobe"
)

// Kernel is a fake kernel. Its methods are safe for concurrent use.
type Kernel struct {
	dir string

	mu          sync.Mutex
	mods        map[string]*liveModule
	order       []string // live modules, oldest first
	inserts     []Insert
	removes     []Remove
	failInsert  map[string]error
	failInit    map[string]error
	failRemove  map[string]error
	failDecomp  map[string]bool // files the decompressor refuses
	onInsert    func(Insert) error
	compression string
	noFinit     bool
	vermagic    string
	seq         int
}

type liveModule struct {
	name   string
	size   int
	deps   []string
	users  int      // references that are not modules (Use)
	holder []string // modules that depend on this one
}

// Insert records one finit_module or init_module call.
type Insert struct {
	Module     string             // the module's name, read from the image ("" if unreadable)
	Params     string             // the parameter string
	Flags      modprobe.InitFlags // finit_module's flags (0 for init_module)
	File       string             // the file given to finit_module; "" for init_module
	Compressed bool               // the kernel was asked to decompress the file
	Init       bool               // the module's init function ran
	Err        error              // what the call returned
}

// Remove records one delete_module call.
type Remove struct {
	Module string
	Flags  modprobe.DeleteFlags
	Err    error
}

// NewKernel returns a fake kernel with no module loaded, whose sysfs,
// procfs and kernel log live in a temporary directory of tb.
func NewKernel(tb testing.TB) *Kernel {
	tb.Helper()
	k, err := New(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// New returns a fake kernel with no module loaded, whose sysfs, procfs
// and kernel log are created in dir, for use outside tests.
func New(dir string) (*Kernel, error) {
	k := &Kernel{
		dir:        dir,
		mods:       map[string]*liveModule{},
		failInsert: map[string]error{},
		failInit:   map[string]error{},
		failRemove: map[string]error{},
		failDecomp: map[string]bool{},
	}
	for _, d := range []string{"sys/module", "proc", "etc/modprobe.d"} {
		if err := os.MkdirAll(filepath.Join(k.dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.writeProcModules(); err != nil {
		return nil, err
	}
	if err := os.WriteFile(k.KmsgPath(), nil, 0o644); err != nil {
		return nil, err
	}
	return k, nil
}

// SysfsDir is the fake sysfs mount point (it holds module/).
func (k *Kernel) SysfsDir() string { return filepath.Join(k.dir, "sys") }

// ProcDir is the fake procfs mount point (it holds modules).
func (k *Kernel) ProcDir() string { return filepath.Join(k.dir, "proc") }

// KmsgPath is the fake kernel log, one /dev/kmsg record per line.
func (k *Kernel) KmsgPath() string { return filepath.Join(k.dir, "kmsg") }

// ConfigDir is the fake system's modprobe.d directory, empty until a
// test writes into it: a Loader from Options reads it instead of the
// host's configuration.
func (k *Kernel) ConfigDir() string { return filepath.Join(k.dir, "etc/modprobe.d") }

// Options returns opts wired to the fake kernel: Kernel, SysfsDir,
// ProcDir and KmsgPath are set. The module tree and the configuration
// are the caller's, and nothing of the host's is read unless the caller
// names it: without ConfigPaths the Loader reads ConfigDir (not the
// host's modprobe.d), and without ModuleDir or RootDir it looks for
// modules under the fake system's own root, which has none until a test
// puts a tree there.
func (k *Kernel) Options(opts modprobe.Options) modprobe.Options {
	if opts.ConfigPaths == nil {
		opts.ConfigPaths = []string{k.ConfigDir()}
	}
	if opts.ModuleDir == "" && opts.RootDir == "" {
		opts.RootDir = k.dir
	}
	opts.Kernel = k
	opts.SysfsDir = k.SysfsDir()
	opts.ProcDir = k.ProcDir()
	opts.KmsgPath = k.KmsgPath()
	return opts
}

// Open opens a Loader on the fake kernel with opts (see Options), and
// closes it when the test ends.
func (k *Kernel) Open(tb testing.TB, opts modprobe.Options) *modprobe.Loader {
	tb.Helper()
	l, err := modprobe.Open(k.Options(opts))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// SetCompression makes the kernel decompress modules in format ("gzip",
// "xz" or "zstd") itself, as Linux 5.17 and later (6.2 for zstd) built
// with CONFIG_MODULE_DECOMPRESS do, and says so in
// /sys/module/compression. "" removes the file: the kernel then refuses
// InitCompressedFile with EINVAL, as kernels before 5.17 do (later ones
// without CONFIG_MODULE_DECOMPRESS answer EOPNOTSUPP).
func (k *Kernel) SetCompression(format string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.compression = format
	path := filepath.Join(k.SysfsDir(), "module", "compression")
	if format == "" {
		err := os.Remove(path)
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	return os.WriteFile(path, []byte(format+"\n"), 0o444)
}

// SetVermagic makes the kernel check each module's vermagic= against v,
// refusing a mismatch with ENOEXEC unless the caller asked to ignore it.
// "" (the default) checks nothing.
func (k *Kernel) SetVermagic(v string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.vermagic = v
}

// FailInsert makes every insert of module name fail with err (a
// syscall.Errno, usually); nil clears it.
func (k *Kernel) FailInsert(name string, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.failInsert[name] = err
}

// FailInit makes the init function of module name return err (a
// syscall.Errno, usually; nil clears it): the kernel loads the module,
// every check passes, its init runs (Insert.Init), logs "NAME: init
// failed: ERR" as a module says why it gives up, and the module is gone
// again.
func (k *Kernel) FailInit(name string, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.failInit[name] = err
}

// FailDecompress makes the kernel's decompressor fail on the file at
// path (as finit_module names it), as it does on data it cannot decode:
// it logs its failure line and finit_module answers EINVAL before loading
// anything.
func (k *Kernel) FailDecompress(path string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.failDecomp[path] = true
}

// SetNoFinitModule makes finit_module missing (true), as on Linux before
// 3.8 or under a seccomp filter that answers ENOSYS: every call answers
// ENOSYS without reading the file. init_module still works.
func (k *Kernel) SetNoFinitModule(missing bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.noFinit = missing
}

// FailRemove makes every removal of module name fail with err; nil
// clears it.
func (k *Kernel) FailRemove(name string, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.failRemove[name] = err
}

// OnInsert sets a function called for each insert after the image is
// read and before anything else is checked; a non-nil error is returned
// to the caller and nothing is loaded. f runs with the fake kernel's lock
// held: it must not call the Kernel's methods (read its sysfs files
// instead).
func (k *Kernel) OnInsert(f func(Insert) error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.onInsert = f
}

// Inserts returns the inserts so far, in order.
func (k *Kernel) Inserts() []Insert {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.inserts)
}

// Inserted returns the names of the modules inserted successfully so
// far, in order: what a test of a stopped or failed load asserts.
func (k *Kernel) Inserted() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var names []string
	for _, in := range k.inserts {
		if in.Err == nil {
			names = append(names, in.Module)
		}
	}
	return names
}

// Removes returns the removals so far, in order.
func (k *Kernel) Removes() []Remove {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.removes)
}

// Loaded returns the live modules, oldest first.
func (k *Kernel) Loaded() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.order)
}

// IsLive reports whether module name is live.
func (k *Kernel) IsLive(name string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.mods[name] != nil
}

// Use takes a reference on a live module, as an open device or socket
// does: its refcnt goes up and removals fail with EWOULDBLOCK.
func (k *Kernel) Use(name string) error {
	return k.adjustUsers(name, 1)
}

// Unuse drops a reference taken by Use.
func (k *Kernel) Unuse(name string) error {
	return k.adjustUsers(name, -1)
}

func (k *Kernel) adjustUsers(name string, d int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	m := k.mods[name]
	if m == nil {
		return fmt.Errorf("modprobetest: module %s is not live", name)
	}
	if m.users+d < 0 {
		return fmt.Errorf("modprobetest: module %s has no reference to drop", name)
	}
	m.users += d
	return k.writeModule(m)
}

// Preload makes module name live as if it had been loaded at boot, with
// the given live dependencies.
func (k *Kernel) Preload(name string, deps ...string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.mods[name] != nil {
		return fmt.Errorf("modprobetest: module %s is already live", name)
	}
	for _, d := range deps {
		if k.mods[d] == nil {
			return fmt.Errorf("modprobetest: dependency %s of %s is not live", d, name)
		}
	}
	return k.addLive(name, 4096, deps, nil, "")
}

// Log appends a message to the kernel log, as printk does.
func (k *Kernel) Log(msg string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.logf("%s", msg)
}

func (k *Kernel) logf(format string, args ...any) error {
	k.seq++
	// Safe: the fake kernel's own log file, which NewKernel created.
	f, err := os.OpenFile(k.KmsgPath(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "3,%d,0,-;%s\n", k.seq, fmt.Sprintf(format, args...))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// addLive makes a module live and writes its sysfs directory.
// A module with a srcversion in its .modinfo gets a srcversion file, as
// with the kernel's CONFIG_MODULE_SRCVERSION_ALL.
func (k *Kernel) addLive(name string, size int, deps []string, params map[string]string, srcversion string) error {
	m := &liveModule{name: name, size: size, deps: deps}
	k.mods[name] = m
	k.order = append(k.order, name)
	dir := filepath.Join(k.SysfsDir(), "module", name)
	for _, d := range []string{"holders", "parameters"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(params))
	for p := range params {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	for _, p := range keys {
		if err := os.WriteFile(filepath.Join(dir, "parameters", p), []byte(params[p]+"\n"), 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "coresize"), fmt.Appendf(nil, "%d\n", size), 0o444); err != nil {
		return err
	}
	if srcversion != "" {
		if err := os.WriteFile(filepath.Join(dir, "srcversion"), []byte(srcversion+"\n"), 0o444); err != nil {
			return err
		}
	}
	for _, d := range deps {
		dm := k.mods[d]
		dm.holder = append(dm.holder, name)
		if err := os.Symlink("../../"+name, filepath.Join(k.SysfsDir(), "module", d, "holders", name)); err != nil {
			return err
		}
		if err := k.writeModule(dm); err != nil {
			return err
		}
	}
	if err := k.writeModule(m); err != nil {
		return err
	}
	// initstate last: the kernel creates the directory first
	if err := os.WriteFile(filepath.Join(dir, "initstate"), []byte("live\n"), 0o444); err != nil {
		return err
	}
	return k.writeProcModules()
}

func (m *liveModule) refcnt() int { return m.users + len(m.holder) }

// writeModule rewrites a live module's refcnt.
func (k *Kernel) writeModule(m *liveModule) error {
	path := filepath.Join(k.SysfsDir(), "module", m.name, "refcnt")
	if err := os.WriteFile(path, fmt.Appendf(nil, "%d\n", m.refcnt()), 0o444); err != nil {
		return err
	}
	return k.writeProcModules()
}

// writeProcModules rewrites /proc/modules, newest module first.
func (k *Kernel) writeProcModules() error {
	var b strings.Builder
	for i := len(k.order) - 1; i >= 0; i-- {
		m := k.mods[k.order[i]]
		users := "-"
		if len(m.holder) > 0 {
			users = strings.Join(m.holder, ",") + ","
		}
		fmt.Fprintf(&b, "%s %d %d %s Live 0x0000000000000000\n", m.name, m.size, m.refcnt(), users)
	}
	return os.WriteFile(filepath.Join(k.ProcDir(), "modules"), []byte(b.String()), 0o444)
}

// SetRelease sets the kernel release the fake procfs reports
// (sys/kernel/osrelease), which a Loader opened without a KernelRelease
// uses to find its module directory.
func (k *Kernel) SetRelease(release string) error {
	dir := filepath.Join(k.ProcDir(), "sys", "kernel")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "osrelease"), []byte(release+"\n"), 0o444)
}
