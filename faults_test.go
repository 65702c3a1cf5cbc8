package modprobe_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/modprobetest"
)

// Fault injection through modprobetest: each errno the kernel can return,
// at each step of a load and of a removal, checked against what kmod does
// (kmod-semantics §3.1 step 4, §3.8, §4.1):
//
//   - a failing required module (the requested one or a modules.dep
//     dependency) stops the probe with its error; what went in before
//     stays in, nothing after it is tried;
//   - a failing softdep is ignored and the probe goes on;
//   - EEXIST is success (a concurrent loader won), except for the
//     requested module of a first-time load;
//   - a removal stops at the requested module's failure, while failures
//     removing softdeps and now-unused dependencies are reported and
//     ignored; --remove-holders stops at a holder's failure.
//
// The tree is the chain a <- b <- c (c needs b needs a) with
//
//	softdep c pre: pre inst post: post
//	install inst echo install-inst >>LOG
//	remove inst echo remove-inst >>LOG
//
// so that loading c runs a, b, pre, the install command of inst, c, post,
// and removing c removes post, c, b (a is still held by b when kmod's
// single pass visits it), runs the remove command of inst, then removes
// pre.

const faultRelease = "6.1.0-faults"

// faultOrder is the probe list of c; inst is an install command.
var faultOrder = []string{"a", "b", "pre", "inst", "c", "post"}

// faultSteps are the modules an errno is injected at: the dependencies,
// the requested module, a pre softdep and a post softdep.
var faultSteps = []string{"a", "b", "c", "pre", "post"}

// faultRequired are the modules whose failure stops a load of c.
var faultRequired = map[string]bool{"a": true, "b": true, "c": true}

// faultDeps are the modules.dep dependencies (depends=) of each module.
var faultDeps = map[string][]string{"b": {"a"}, "c": {"b"}}

// faultWaits is what each entry of c's probe list waits for in a parallel
// load (transitively): b needs a, the install command is a barrier for
// everything before and after it, c waits for its pre softdeps, post for
// c.
var faultWaits = map[string][]string{
	"a":    nil,
	"b":    {"a"},
	"pre":  nil,
	"inst": {"a", "b", "pre"},
	"c":    {"a", "b", "pre", "inst"},
	"post": {"a", "b", "pre", "inst", "c"},
}

type faultErrno struct {
	name  string
	errno syscall.Errno
}

// faultInsertErrnos are what init_module and finit_module can return.
var faultInsertErrnos = []faultErrno{
	{"EPERM", syscall.EPERM},               // no CAP_SYS_MODULE, modules_disabled
	{"EACCES", syscall.EACCES},             // LSM refusal, noexec mount
	{"ENOEXEC", syscall.ENOEXEC},           // bad ELF, vermagic mismatch
	{"ENOENT", syscall.ENOENT},             // unknown symbol
	{"EINVAL", syscall.EINVAL},             // bad parameter, bad flags, decompression failure, an init's
	{"ENOMEM", syscall.ENOMEM},             // out of memory
	{"EFAULT", syscall.EFAULT},             // bad address
	{"EBUSY", syscall.EBUSY},               // timeout resolving symbols
	{"EEXIST", syscall.EEXIST},             // already loaded (a concurrent loader)
	{"EKEYREJECTED", syscall.EKEYREJECTED}, // bad signature
	{"ENOKEY", syscall.ENOKEY},             // signature from an unknown key
	{"EBADMSG", syscall.EBADMSG},           // malformed signature
	{"ENODEV", syscall.ENODEV},             // the init function found no device
	{"ENOSYS", syscall.ENOSYS},             // no finit_module (before loading), or an init's
	{"EOPNOTSUPP", syscall.EOPNOTSUPP},     // no in-kernel decompression (before loading), or an init's (kvm_intel)
	{"ETXTBSY", syscall.ETXTBSY},           // file open for writing
	{"EFBIG", syscall.EFBIG},               // file too large
	{"EIO", syscall.EIO},                   // read error
	{"ENOSPC", syscall.ENOSPC},             // out of vmalloc space
	{"EBADF", syscall.EBADF},               // bad file descriptor
	{"ESRCH", syscall.ESRCH},               // wrong symbol version (insmod's words)
	{"EAGAIN", syscall.EAGAIN},             // transient failure of an init function
	{"EINTR", syscall.EINTR},               // the system kernel's seam retries it; a Kernel that returns it is believed
}

// faultDeleteErrnos are what delete_module can return. EWOULDBLOCK is
// EAGAIN on Linux (checked in TestFaultRemove), so it is not repeated.
var faultDeleteErrnos = []faultErrno{
	{"EBUSY", syscall.EBUSY},   // not live, or no exit function
	{"EAGAIN", syscall.EAGAIN}, // in use, O_NONBLOCK (EWOULDBLOCK)
	{"EPERM", syscall.EPERM},   // no CAP_SYS_MODULE
	{"ENOENT", syscall.ENOENT}, // not loaded (gone meanwhile)
	{"EINTR", syscall.EINTR},   // the system kernel's seam retries it; a Kernel that returns it is believed
	{"EFAULT", syscall.EFAULT}, // bad address
	{"EINVAL", syscall.EINVAL},
	{"ENOSYS", syscall.ENOSYS}, // no CONFIG_MODULE_UNLOAD
	{"EEXIST", syscall.EEXIST}, // kmod's legacy mapping: not in kernel, success
}

// faultTree writes the fault tree in a temporary directory of t and
// returns its root: plain .ko files, or .ko.xz files for a kernel that
// decompresses xz itself.
func faultTree(t *testing.T, compressed bool) string {
	t.Helper()
	ext := ".ko"
	if compressed {
		ext = ".ko.xz"
	}
	root := t.TempDir()
	var mods []modprobetest.Module
	for _, m := range []string{"a", "b", "c", "pre", "post"} {
		mods = append(mods, modprobetest.Module{Name: m, Path: "kernel/" + m + ext, Depends: faultDeps[m]})
	}
	if _, err := modprobetest.WriteTree(root, faultRelease, mods...); err != nil {
		t.Fatal(err)
	}
	return root
}

// faultEnv is one case: a fresh fake kernel and Loader on a fault tree.
type faultEnv struct {
	k   *modprobetest.Kernel
	l   *modprobe.Loader
	log string // what the install and remove commands of inst write
}

// newFaultEnv opens a Loader on the fault tree at root (compressed or
// not); installExit is the exit status of inst's install command.
func newFaultEnv(t *testing.T, root string, compressed bool, installExit int) *faultEnv {
	t.Helper()
	dir := t.TempDir()
	e := &faultEnv{k: modprobetest.NewKernel(t), log: filepath.Join(dir, "log")}
	if compressed {
		if err := e.k.SetCompression("xz"); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "conf")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	install := "echo install-inst >>" + e.log
	if installExit != 0 {
		install += fmt.Sprintf("; exit %d", installExit)
	}
	text := "softdep c pre: pre inst post: post\n" +
		"install inst " + install + "\n" +
		"remove inst echo remove-inst >>" + e.log + "\n"
	if err := os.WriteFile(filepath.Join(conf, "faults.conf"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	e.l = e.k.Open(t, modprobe.Options{RootDir: root, KernelRelease: faultRelease, ConfigPaths: []string{conf}, Stdout: io.Discard, Stderr: io.Discard})
	return e
}

// commands returns the lines the commands of inst wrote.
func (e *faultEnv) commands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(e.log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// attempts returns the inserts of module, in order.
func (e *faultEnv) attempts(module string) []modprobetest.Insert {
	var out []modprobetest.Insert
	for _, in := range e.k.Inserts() {
		if in.Module == module {
			out = append(out, in)
		}
	}
	return out
}

// deletes returns the modules given to delete_module, in order.
func (e *faultEnv) deletes() []string {
	var out []string
	for _, r := range e.k.Removes() {
		out = append(out, r.Module)
	}
	return out
}

// faultFind returns the first *ModuleError with Op op in err's tree.
func faultFind(err error, op modprobe.Op) *modprobe.ModuleError {
	if err == nil {
		return nil
	}
	if me, ok := err.(*modprobe.ModuleError); ok && me.Op == op {
		return me
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return faultFind(u.Unwrap(), op)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if me := faultFind(e, op); me != nil {
				return me
			}
		}
	}
	return nil
}

// faultSorted returns a sorted copy of s.
func faultSorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// faultWithout returns s without the elements in drop.
func faultWithout(s []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(s), func(x string) bool { return slices.Contains(drop, x) })
}

// faultModules are the modules of c's probe list (inst is a command).
var faultModules = faultWithout(faultOrder, "inst")

// faultMode is how a load case injects its errno and runs.
type faultMode struct {
	name       string
	compressed bool // .ko.xz files, a kernel that decompresses xz
	finitOnly  bool // only finit_module fails; init_module would succeed
	jobs       int
}

var faultLoadModes = []faultMode{
	{name: "seq"},
	{name: "jobs4", jobs: 4},
	{name: "finit-only", finitOnly: true},
	{name: "xz", compressed: true},
	{name: "xz-finit-only", compressed: true, finitOnly: true},
}

// TestFaultLoad loads c with each errno injected at each step, in each
// mode: sequential or with Jobs 4 (the error is the same; what does not
// wait for the failing module may still go in); every insert of the
// module failing (FailInsert), or only finit_module (init_module would
// succeed); plain files, or xz files for a kernel that decompresses xz.
// Every errno is injected after the kernel has read the module, where its
// init may have run, so none is retried with init_module, not even
// ENOSYS, EOPNOTSUPP or EINVAL (insert_test.go has the answers that are).
// EEXIST is injected as it happens: the module goes live between the
// Loader's check and its insert.
func TestFaultLoad(t *testing.T) {
	roots := [2]string{faultTree(t, false), faultTree(t, true)}
	var n atomic.Int32
	for _, mode := range faultLoadModes {
		root := roots[0]
		if mode.compressed {
			root = roots[1]
		}
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			for _, fe := range faultInsertErrnos {
				for _, step := range faultSteps {
					n.Add(1)
					t.Run(fe.name+"@"+step, func(t *testing.T) {
						t.Parallel()
						runLoadFault(t, root, mode, step, fe.errno)
					})
				}
			}
		})
	}
	t.Cleanup(func() {
		t.Logf("faults: %d load cases (%d errnos x %d steps x %d modes)", n.Load(), len(faultInsertErrnos), len(faultSteps), len(faultLoadModes))
	})
}

func runLoadFault(t *testing.T, root string, mode faultMode, step string, errno syscall.Errno) {
	e := newFaultEnv(t, root, mode.compressed, 0)
	opts := modprobe.LoadOptions{Jobs: mode.jobs}
	race := errno == syscall.EEXIST
	switch {
	case race:
		// The kernel's EEXIST for real: the module goes live between the
		// Loader's check and its insert, as when another modprobe wins.
		opts.Show = func(a modprobe.Action) {
			if a.Module == step {
				if err := e.k.Preload(step, faultDeps[step]...); err != nil {
					t.Error(err)
				}
			}
		}
	case mode.finitOnly:
		e.k.OnInsert(func(in modprobetest.Insert) error {
			if in.Module == step && in.File != "" {
				return errno
			}
			return nil
		})
	default:
		e.k.FailInsert(step, errno)
	}
	err := e.l.LoadWith(context.Background(), "c", nil, opts)

	succeeds := race
	fatal := !succeeds && faultRequired[step]
	live := faultSorted(e.k.Loaded())

	// the error
	switch {
	case !fatal && succeeds && err != nil:
		t.Fatalf("LoadWith(c) = %v, want success (EEXIST)", err)
	case !fatal && err != nil:
		t.Fatalf("LoadWith(c) = %v, want success (kmod ignores a failing softdep)", err)
	case fatal:
		if !errors.Is(err, errno) {
			t.Errorf("LoadWith(c) = %v, want an error wrapping %v", err, errno)
		}
		me := faultFind(err, "insert")
		if me == nil || me.Module != step {
			t.Errorf("LoadWith(c) = %v, want a *ModuleError with Op insert for %s", err, step)
		} else if !errors.Is(me, errno) {
			t.Errorf("the insert error %v does not wrap %v", me, errno)
		}
		if ld := faultFind(err, "load"); ld == nil || ld.Module != "c" {
			t.Errorf("LoadWith(c) = %v, want a *ModuleError with Op load for c around it", err)
		}
	}

	// what is live, and what was tried
	var mustLive, mustNot []string
	switch {
	case !fatal && succeeds:
		mustLive = faultModules
	case !fatal:
		mustLive, mustNot = faultWithout(faultModules, step), []string{step}
	case mode.jobs > 1:
		// Parallel: what step waits for went in before it; what waits for
		// step never starts; the rest may or may not have run.
		mustLive = faultWithout(faultWaits[step], "inst")
		mustNot = []string{step}
		for _, m := range faultOrder {
			if slices.Contains(faultWaits[m], step) {
				mustNot = append(mustNot, m)
			}
		}
	default:
		i := slices.Index(faultOrder, step)
		mustLive = faultWithout(faultOrder[:i], "inst")
		mustNot = faultOrder[i:]
	}
	for _, m := range mustLive {
		if !slices.Contains(live, m) {
			t.Errorf("%s not live; live %v", m, live)
		}
	}
	for _, m := range mustNot {
		if slices.Contains(live, m) {
			t.Errorf("%s live; live %v", m, live)
		}
		if m != step && m != "inst" && len(e.attempts(m)) > 0 {
			t.Errorf("%s was given to the kernel after %s failed: %+v", m, step, e.attempts(m))
		}
	}
	if !fatal && !slices.Equal(live, faultSorted(mustLive)) {
		t.Errorf("live %v, want %v", live, faultSorted(mustLive))
	}
	ran := slices.Contains(e.commands(t), "install-inst")
	if slices.Contains(mustNot, "inst") && ran {
		t.Errorf("the install command of inst ran after %s failed", step)
	}
	if !fatal && !ran {
		t.Error("the install command of inst did not run")
	}

	// every module went in once: the faulty one too, never retried
	for _, m := range faultModules {
		if m == step {
			continue
		}
		if n := len(e.attempts(m)); n > 1 {
			t.Errorf("%s given to the kernel %d times", m, n)
		}
	}
	got := e.attempts(step)
	switch {
	case race && mode.jobs > 1:
		// the Loader may see the module live on its second look
		if len(got) > 1 || len(got) == 1 && !errors.Is(got[0].Err, syscall.EEXIST) {
			t.Errorf("inserts of %s: %+v, want at most one, answered EEXIST", step, got)
		}
	case race:
		if len(got) != 1 || !errors.Is(got[0].Err, syscall.EEXIST) {
			t.Errorf("inserts of %s: %+v, want one, answered EEXIST", step, got)
		}
	default:
		if len(got) != 1 {
			t.Fatalf("inserts of %s: %+v, want 1", step, got)
		}
		if got[0].File == "" || got[0].Compressed != mode.compressed {
			t.Errorf("insert of %s: %+v, want finit_module (compressed: %v)", step, got[0], mode.compressed)
		}
		if !errors.Is(got[0].Err, errno) {
			t.Errorf("insert of %s returned %v, want %v", step, got[0].Err, errno)
		}
	}
}

// TestFaultLoadFirstTime: EEXIST for the requested module of a first-time
// load is ErrAlreadyLoaded and stops the probe before the post softdep;
// for a dependency it is success.
func TestFaultLoadFirstTime(t *testing.T) {
	root := faultTree(t, false)
	for _, jobs := range []int{1, 4} {
		for _, step := range faultSteps {
			t.Run(fmt.Sprintf("jobs%d/%s", jobs, step), func(t *testing.T) {
				t.Parallel()
				e := newFaultEnv(t, root, false, 0)
				err := e.l.LoadWith(context.Background(), "c", nil, modprobe.LoadOptions{FirstTime: true, Jobs: jobs, Show: func(a modprobe.Action) {
					if a.Module == step {
						if err := e.k.Preload(step, faultDeps[step]...); err != nil {
							t.Error(err)
						}
					}
				}})
				live := faultSorted(e.k.Loaded())
				if step != "c" {
					if err != nil || !slices.Equal(live, faultSorted(faultModules)) {
						t.Errorf("LoadWith(c) = %v, live %v: want success, everything live", err, live)
					}
					return
				}
				me := faultFind(err, "insert")
				if !errors.Is(err, modprobe.ErrAlreadyLoaded) || !errors.Is(err, syscall.EEXIST) || me == nil || me.Module != "c" {
					t.Errorf("LoadWith(c) = %v, want an insert error for c wrapping ErrAlreadyLoaded and EEXIST", err)
				}
				if slices.Contains(live, "post") || len(e.attempts("post")) > 0 {
					t.Errorf("live %v: the post softdep was loaded after the first-time failure", live)
				}
			})
		}
	}
}

// TestFaultInstallCommand: a failing install command is EINVAL, as
// libkmod returns it: ignored for a softdep, fatal for the requested
// module.
func TestFaultInstallCommand(t *testing.T) {
	ctx := context.Background()
	root := faultTree(t, false)
	e := newFaultEnv(t, root, false, 3)
	if err := e.l.Load(ctx, "c"); err != nil {
		t.Errorf("Load(c) with a failing install command for its softdep inst: %v", err)
	}
	if live := faultSorted(e.k.Loaded()); !slices.Equal(live, faultSorted(faultModules)) {
		t.Errorf("live %v", live)
	}
	if got := e.commands(t); !slices.Equal(got, []string{"install-inst"}) {
		t.Errorf("commands %v", got)
	}

	e = newFaultEnv(t, root, false, 3)
	err := e.l.Load(ctx, "inst")
	me := faultFind(err, "install")
	var ce *modprobe.CommandError
	if me == nil || me.Module != "inst" || !errors.Is(err, modprobe.ErrCommandFailed) || !errors.Is(err, syscall.EINVAL) ||
		!errors.As(err, &ce) || ce.ExitCode != 3 {
		t.Errorf("Load(inst) = %v, want an install error for inst wrapping ErrCommandFailed, EINVAL and exit status 3", err)
	}
}

// faultRemoval is the expected outcome of a removal with a fault.
type faultRemoval struct {
	deletes []string // delete_module calls, in order
	live    []string // modules left
	cmd     bool     // the remove command of inst ran
	errAt   string   // the module whose failure is returned; "" for success
	// gone is a module deleted again after another step removed it: the
	// kernel's ENOENT for it is the error returned.
	gone string
}

// faultRemoveC: modprobe -r c with everything loaded. Fault-free, it
// deletes post, c and b (a is held by b when the pass visits it), runs
// inst's remove command and deletes pre.
var faultRemoveC = map[string]faultRemoval{
	"":     {[]string{"post", "c", "b", "pre"}, []string{"a"}, true, "", ""},
	"post": {[]string{"post", "c", "b", "pre"}, []string{"a", "post"}, true, "", ""},
	"c":    {[]string{"post", "c"}, []string{"a", "b", "c", "pre"}, false, "c", ""},
	"b":    {[]string{"post", "c", "b", "pre"}, []string{"a", "b"}, true, "", ""},
	"a":    {[]string{"post", "c", "b", "pre"}, []string{"a"}, true, "", ""},
	"pre":  {[]string{"post", "c", "b", "pre"}, []string{"a", "pre"}, true, "", ""},
}

// faultRemoveCExist is faultRemoveC for EEXIST, which kmod takes for
// success: the fake leaves the module live, so for c the dependency pass
// finds b still held.
var faultRemoveCExist = map[string]faultRemoval{
	"c": {[]string{"post", "c", "pre"}, []string{"a", "b", "c"}, true, "", ""},
}

// faultRemoveHolders: modprobe -r --remove-holders b with everything
// loaded. b's holder c is removed as modprobe -r c would, which removes b
// in its dependency pass; b is then deleted a second time, as kmod 34.2
// does, and the kernel's ENOENT fails the removal, so a stays. A holder's
// failure stops the removal before that.
var faultRemoveHolders = map[string]faultRemoval{
	"":     {[]string{"post", "c", "b", "pre", "b"}, []string{"a"}, true, "", "b"},
	"post": {[]string{"post", "c", "b", "pre", "b"}, []string{"a", "post"}, true, "", "b"},
	"c":    {[]string{"post", "c"}, []string{"a", "b", "c", "pre"}, false, "c", ""},
	"b":    {[]string{"post", "c", "b", "pre", "b"}, []string{"a", "b"}, true, "b", ""},
	"a":    {[]string{"post", "c", "b", "pre", "b"}, []string{"a"}, true, "", "b"},
	"pre":  {[]string{"post", "c", "b", "pre", "b"}, []string{"a", "pre"}, true, "", "b"},
}

func TestFaultRemove(t *testing.T) {
	if syscall.EWOULDBLOCK != syscall.EAGAIN {
		t.Fatal("EWOULDBLOCK is not EAGAIN here: add it to faultDeleteErrnos")
	}
	root := faultTree(t, false)
	var n atomic.Int32
	scenarios := []struct {
		name    string
		target  string
		holders bool
		table   map[string]faultRemoval
	}{
		{"remove-c", "c", false, faultRemoveC},
		{"holders-b", "b", true, faultRemoveHolders},
	}
	for _, sc := range scenarios {
		t.Run(sc.name+"/none", func(t *testing.T) {
			runRemoveFault(t, root, sc.target, sc.holders, "", 0, sc.table[""])
		})
		for _, fe := range faultDeleteErrnos {
			if fe.errno == syscall.EEXIST && sc.holders {
				// The fake cannot tell EEXIST truthfully (the module is
				// still there); with holders that only tests the fake.
				continue
			}
			for _, step := range faultSteps {
				want := sc.table[step]
				if fe.errno == syscall.EEXIST {
					if w, ok := faultRemoveCExist[step]; ok {
						want = w
					} else {
						want.errAt = ""
					}
				}
				n.Add(1)
				t.Run(sc.name+"/"+fe.name+"@"+step, func(t *testing.T) {
					t.Parallel()
					runRemoveFault(t, root, sc.target, sc.holders, step, fe.errno, want)
				})
			}
		}
	}
	t.Cleanup(func() {
		t.Logf("faults: %d remove cases (%d errnos x %d steps x 2 scenarios, no EEXIST with holders)", n.Load(), len(faultDeleteErrnos), len(faultSteps))
	})
}

func runRemoveFault(t *testing.T, root, target string, holders bool, step string, errno syscall.Errno, want faultRemoval) {
	e := newFaultEnv(t, root, false, 0)
	ctx := context.Background()
	if err := e.l.Load(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if step != "" {
		e.k.FailRemove(step, errno)
	}
	var reported []error
	err := e.l.RemoveWith(ctx, []string{target}, modprobe.RemoveOptions{RemoveHolders: holders, Report: func(err error) { reported = append(reported, err) }})

	if got := e.deletes(); !slices.Equal(got, want.deletes) {
		t.Errorf("delete_module calls %v, want %v", got, want.deletes)
	}
	if got := faultSorted(e.k.Loaded()); !slices.Equal(got, faultSorted(want.live)) {
		t.Errorf("live %v, want %v", got, faultSorted(want.live))
	}
	cmds := e.commands(t)
	if ran := slices.Contains(cmds, "remove-inst"); ran != want.cmd {
		t.Errorf("remove command of inst ran: %v, want %v (commands %v)", ran, want.cmd, cmds)
	}
	switch {
	case want.gone != "":
		if me := faultFind(err, "delete"); !errors.Is(err, syscall.ENOENT) || me == nil || me.Module != want.gone {
			t.Errorf("RemoveWith(%s) = %v, want a delete error for %s wrapping ENOENT", target, err, want.gone)
		}
	case want.errAt == "":
		if err != nil {
			t.Errorf("RemoveWith(%s) = %v, want success", target, err)
		}
	default:
		me := faultFind(err, "delete")
		if !errors.Is(err, errno) || me == nil || me.Module != want.errAt {
			t.Errorf("RemoveWith(%s) = %v, want a delete error for %s wrapping %v", target, err, want.errAt, errno)
		}
		if inUse := errno == syscall.EAGAIN || errno == syscall.EBUSY; inUse != errors.Is(err, modprobe.ErrInUse) {
			t.Errorf("RemoveWith(%s) = %v: ErrInUse %v, want %v", target, err, !inUse, inUse)
		}
	}
	// Every failed delete_module is reported, fatal or not; EEXIST is no
	// failure.
	failed := 0
	for _, r := range e.k.Removes() {
		if r.Err != nil && !errors.Is(r.Err, syscall.EEXIST) {
			failed++
		}
	}
	if len(reported) != failed {
		t.Errorf("reported %v for %d failed delete_module calls", reported, failed)
	}
	for _, r := range reported {
		me := faultFind(r, "delete")
		if me != nil && me.Module == want.gone && errors.Is(r, syscall.ENOENT) {
			continue
		}
		if me == nil || me.Module != step || !errors.Is(r, errno) {
			t.Errorf("reported %v, want a delete error for %s wrapping %v", r, step, errno)
		}
	}
}

// TestFaultRemoveWait: --wait retries EAGAIN (in use) until its deadline,
// and nothing else; a first-time removal takes EEXIST for "not loaded".
func TestFaultRemoveWait(t *testing.T) {
	ctx := context.Background()
	root := faultTree(t, false)
	for _, fe := range []faultErrno{{"EAGAIN", syscall.EAGAIN}, {"EBUSY", syscall.EBUSY}, {"EPERM", syscall.EPERM}} {
		t.Run(fe.name, func(t *testing.T) {
			e := newFaultEnv(t, root, false, 0)
			if err := e.l.Load(ctx, "c"); err != nil {
				t.Fatal(err)
			}
			e.k.FailRemove("c", fe.errno)
			err := e.l.RemoveWith(ctx, []string{"c"}, modprobe.RemoveOptions{Wait: 30 * time.Millisecond})
			if me := faultFind(err, "delete"); !errors.Is(err, fe.errno) || me == nil || me.Module != "c" {
				t.Errorf("RemoveWith(c, --wait) = %v, want a delete error for c wrapping %v", err, fe.errno)
			}
			n := 0
			for _, r := range e.k.Removes() {
				if r.Module == "c" {
					n++
				}
			}
			if fe.errno == syscall.EAGAIN && n < 2 || fe.errno != syscall.EAGAIN && n != 1 {
				t.Errorf("%d delete_module calls for c", n)
			}
			if live := faultSorted(e.k.Loaded()); !slices.Equal(live, []string{"a", "b", "c", "pre"}) {
				t.Errorf("live %v: only post may be gone", live)
			}
		})
	}
	t.Run("first-time-EEXIST", func(t *testing.T) {
		e := newFaultEnv(t, root, false, 0)
		if err := e.l.Load(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		e.k.FailRemove("c", syscall.EEXIST)
		err := e.l.RemoveWith(ctx, []string{"c"}, modprobe.RemoveOptions{FirstTime: true})
		if me := faultFind(err, "delete"); !errors.Is(err, modprobe.ErrNotLoaded) || me == nil || me.Module != "c" {
			t.Errorf("RemoveWith(c, --first-time) = %v, want ErrNotLoaded for c", err)
		}
		if got := e.deletes(); !slices.Equal(got, []string{"post", "c"}) {
			t.Errorf("delete_module calls %v: the removal must stop at c", got)
		}
		if slices.Contains(e.commands(t), "remove-inst") {
			t.Error("the pre softdeps were removed after the failure")
		}
	})
}

// TestFaultCancelLoad cancels the context when the k-th module goes in:
// the load stops before the next module (and the install command) and
// returns context.Canceled, with exactly k modules inserted.
func TestFaultCancelLoad(t *testing.T) {
	inserts := len(faultModules)
	root := faultTree(t, false)
	cases := 0
	for _, jobs := range []int{1, 2, 4} {
		for k := 1; k <= inserts; k++ {
			cases++
			t.Run(fmt.Sprintf("jobs%d/k%d", jobs, k), func(t *testing.T) {
				t.Parallel()
				e := newFaultEnv(t, root, false, 0)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var n, after atomic.Int32
				e.k.OnInsert(func(modprobetest.Insert) error {
					if ctx.Err() != nil {
						after.Add(1)
					}
					if n.Add(1) == int32(k) {
						cancel()
						time.Sleep(5 * time.Millisecond) // let the others reach their next step
					}
					return nil
				})
				err := e.l.LoadWith(ctx, "c", nil, modprobe.LoadOptions{Jobs: jobs})
				got := e.k.Inserts()
				time.Sleep(10 * time.Millisecond)
				if late := len(e.k.Inserts()) - len(got); late > 0 {
					t.Errorf("%d inserts after LoadWith returned", late)
				}
				if k == inserts {
					if err != nil {
						t.Errorf("canceled at the last module: %v, want success", err)
					}
					return
				}
				if !errors.Is(err, context.Canceled) {
					t.Errorf("LoadWith = %v, want context.Canceled", err)
				}
				if jobs == 1 {
					if len(got) != k {
						t.Errorf("%d inserts, want %d: %+v", len(got), k, got)
					}
					// the command comes after the third insert (pre)
					if ran := slices.Contains(e.commands(t), "install-inst"); ran != (k >= 4) {
						t.Errorf("install command ran: %v", ran)
					}
				} else if a := int(after.Load()); a > jobs-1 {
					t.Errorf("%d inserts started after the cancel with %d jobs, want at most %d in flight", a, jobs, jobs-1)
				}
			})
		}
	}
	t.Logf("faults: %d cancellation cases for LoadWith", cases)
}

// TestFaultCancelLoadAll: the same over LoadAllWith of 16 independent
// modules, and over LoadWith of a module that needs the 16 (one probe
// whose dependencies can go in in parallel). With Jobs above 1 the
// inserts in flight at the cancel may finish, at most Jobs-1 besides the
// one that canceled, but none may start afterwards.
func TestFaultCancelLoadAll(t *testing.T) {
	root := t.TempDir()
	var mods []modprobetest.Module
	var names []string
	for i := range 16 {
		name := fmt.Sprintf("ind%02d", i)
		names = append(names, name)
		mods = append(mods, modprobetest.Module{Name: name})
	}
	mods = append(mods, modprobetest.Module{Name: "hub", Depends: names})
	if _, err := modprobetest.WriteTree(root, faultRelease, mods...); err != nil {
		t.Fatal(err)
	}
	cases := 0
	for _, call := range []string{"LoadAllWith", "LoadWith"} {
		for _, jobs := range []int{1, 2, 4} {
			for _, k := range []int{1, 2, 5, 9, 15} {
				cases++
				t.Run(fmt.Sprintf("%s/jobs%d/k%d", call, jobs, k), func(t *testing.T) {
					t.Parallel()
					kern := modprobetest.NewKernel(t)
					l := kern.Open(t, modprobe.Options{RootDir: root, KernelRelease: faultRelease, ConfigPaths: []string{}})
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					var n, after atomic.Int32
					kern.OnInsert(func(modprobetest.Insert) error {
						if ctx.Err() != nil {
							after.Add(1)
						}
						if n.Add(1) == int32(k) {
							cancel()
							time.Sleep(20 * time.Millisecond) // let the others pile up
						}
						return nil
					})
					var err error
					if call == "LoadWith" {
						err = l.LoadWith(ctx, "hub", nil, modprobe.LoadOptions{Jobs: jobs})
					} else {
						err = l.LoadAllWith(ctx, names, modprobe.LoadOptions{Jobs: jobs})
					}
					got := kern.Inserts()
					time.Sleep(20 * time.Millisecond)
					if late := len(kern.Inserts()) - len(got); late > 0 {
						t.Errorf("%d inserts after %s returned", late, call)
					}
					// Success only if the inserts in flight at the cancel were
					// the last ones (checked below).
					complete := call == "LoadAllWith" && len(kern.Loaded()) == len(names)
					if !errors.Is(err, context.Canceled) && !(complete && err == nil && jobs > 1) {
						t.Errorf("%s = %v, want context.Canceled", call, err)
					}
					for _, in := range got {
						if in.Err != nil {
							t.Errorf("insert of %s failed: %v", in.Module, in.Err)
						}
					}
					if kern.IsLive("hub") {
						t.Error("hub was inserted after the cancel")
					}
					if jobs == 1 {
						if len(got) != k {
							t.Errorf("%d inserts, want %d", len(got), k)
						}
					} else if a := int(after.Load()); a > jobs-1 {
						t.Errorf("%d inserts started after the cancel with %d jobs (%d in all, canceled at %d), want at most %d in flight", a, jobs, len(got), k, jobs-1)
					}
					if call == "LoadAllWith" {
						// every module not loaded is reported canceled
						for _, name := range names {
							if !kern.IsLive(name) && !faultCanceled(err, name) {
								t.Errorf("%s neither loaded nor reported canceled in %v", name, err)
							}
						}
					}
				})
			}
		}
	}
	t.Logf("faults: %d cancellation cases for LoadAllWith and a parallel LoadWith", cases)
}

// faultCanceled reports whether err holds a *ModuleError for module
// wrapping context.Canceled.
func faultCanceled(err error, module string) bool {
	switch u := err.(type) {
	case *modprobe.ModuleError:
		if u.Module == module && errors.Is(u, context.Canceled) {
			return true
		}
		return faultCanceled(u.Err, module)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if faultCanceled(e, module) {
				return true
			}
		}
	case interface{ Unwrap() error }:
		return faultCanceled(u.Unwrap(), module)
	}
	return false
}
