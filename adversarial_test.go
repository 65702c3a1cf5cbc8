package modprobe_test

// TestAdversarialInputs is the adversarial-input table of the security
// pass: every input gokmod reads that someone other than the caller may
// have written, fed in a hostile form, each case with the error it must
// give, what may and may not reach the (fake) kernel or the file system,
// and a memory and time bound.
//
// # Threat model, by category
//
//   - moddep: modules.dep entries that climb out of the module directory
//     ("../../../x.ko"), absolute paths, symbolic-link loops, FIFOs, NUL
//     bytes, and 10 MB lines. The module tree is the administrator's (see
//     SECURITY.md), so a path that names an existing file is followed
//     exactly as libkmod follows it (joined to the module directory without
//     cleaning; absolute paths kept); what is asserted is that nothing else
//     reaches the kernel, that a bad dependency is logged and dropped as
//     libkmod drops it, and that nothing hangs or explodes.
//   - name: names and parameters from the caller (the library's typed API)
//     that a modprobe command line would read as options ("-r",
//     "--force"), paths, NUL bytes, newlines, 10 MB values. They must be
//     refused with ErrBadName or ErrBadParams before anything is resolved,
//     inserted or removed.
//   - config: modprobe.d files with 10 MB lines, NUL bytes, a FIFO, a
//     character device that never ends (/dev/zero), softdep chains 10,000
//     deep, softdep cycles, and aliases fanning out to thousands of
//     modules. Bad lines are logged and skipped as kmod skips them, and
//     planning stays linear in the input.
//   - index: kmod's .bin indexes truncated at every eighth of their
//     length, bit-flipped at random offsets (seeded, so failures
//     reproduce), crafted with child pointers that form cycles, and
//     replaced by a FIFO or a directory. Lookup and Plan return an error
//     or kmod's degraded result (fewer modules), never panic or loop.
//   - compress: xz, zstd and gzip bombs (a few KiB that expand to 64 MiB of
//     zeros) against MaxModuleSize = 1 MiB, as the module itself and as a
//     dependency, and a zstd frame declaring a 2 GiB window: ErrTooLarge
//     or a format error, and nothing inserted.
//   - elf: real module images (internal/testmod) with bogus section
//     offsets, counts, sizes and string-table indexes: the fake kernel
//     refuses them (ENOEXEC), elfmod returns errors, forced loads do not
//     write outside the image, and depmod indexes around them.
//   - image: hostile kmod images through kmodimage.Extract (traversal,
//     symlink escape, device node, a header claiming 8 GiB, symlink loops
//     with indexing): the entry is refused and nothing is written.
//   - adapter: kata and isula input from a container's author or user:
//     "-r", "-d DIR", unbalanced quotes, NUL bytes, 10 MB values.
//   - depmod: depmod.Run over a hostile tree: symlink loops, FIFOs named
//     *.ko, a 10 MB modules.order line, bogus ELF files. It must finish
//     promptly with kmod's messages and write only its index files.
//
// # Bounds
//
// Each case's act runs in its own goroutine, with panics recovered and
// reported, under a watchdog: 20 s of wall clock (1 or 2 s for the cases
// that could block on a FIFO or walk a loop), past which the act counts as
// hung and the FIFOs it may wait on are opened to release it. Its CPU time
// (the process's rusage, which a loaded machine does not inflate) must
// stay under 10 s, -race included. Its memory is measured around the act,
// after runtime.GC(): the cumulative allocation (TotalAlloc delta, an upper
// bound on the extra heap the act could have live at any moment, and
// deterministic) and the peak heap growth (heap objects sampled every
// millisecond). The asserted bound is on the cumulative allocation:
//
//   - 64 MiB for every case whose hostile input is small or capped by a
//     limit (names, bombs, ELF files, indexes, images, trees, chains and
//     fan-outs, whatever their depth or width);
//   - 16 MiB + 12 bytes per input byte (136 MiB for 10 MiB) for the cases
//     that feed n bytes of hostile text (10 MB lines and values; the 64
//     MiB a configuration file is cut at for /dev/zero): the file is read,
//     split, indexed and quoted in a message, a few copies each, but the
//     cost must stay proportional to it.
//
// The cases marked pilot (the 10,000-deep softdep chains, the fan-outs to
// thousands of modules, and the 10 MB inputs that become many objects)
// first run at 1/16 and 1/8 of their size: when the allocation grows
// faster than linearly (the deterministic measure: CPU time varies between
// runs and is only projected against its generous limit), or its linear
// projection (or that of the CPU time) already breaks the bound, the case fails without the full run, which
// would otherwise take gigabytes and minutes under -race. Once linear, they
// run at full size like the others.
//
// Post-conditions: the modules the fake kernel inserted successfully, in
// order (nothing, for most cases); no delete_module call at all; and no
// change anywhere under the case's root directory (module tree,
// modprobe.d, a canary directory "outside") except what the case allows
// (depmod's index files, Extract's destination).

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/depmod"
	"github.com/gokmod/modprobe/internal/elfmod"
	"github.com/gokmod/modprobe/internal/index"
	"github.com/gokmod/modprobe/internal/memtest"
	"github.com/gokmod/modprobe/internal/registrytest"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/isula"
	"github.com/gokmod/modprobe/kata"
	"github.com/gokmod/modprobe/kmodimage"
	"github.com/gokmod/modprobe/modprobetest"
)

const (
	// advRelease is the kernel release of the cases' module trees.
	advRelease = "6.6.6-adv"
	// advTimeout is how long an act may run (wall clock, generous for a
	// loaded machine under -race) before it counts as a hang.
	advTimeout = 20 * time.Second
	// advCPULimit bounds the CPU time of an act (all the test process's
	// threads, under -race), and a pilot's projection of it.
	advCPULimit = 10 * time.Second
	// advFixedBound bounds the cumulative allocation of a case without a
	// text input.
	advFixedBound = 64 << 20
	// advBig is the size of the "10 MB" inputs.
	advBig = 10 << 20
	// advBombLimit is the MaxModuleSize of the bomb cases.
	advBombLimit = 1 << 20
	// advGrace is how long past its limit an act may take to return
	// before it counts as a hang.
	advGrace = 500 * time.Millisecond
)

// advTextBound bounds the cumulative allocation of a case that feeds n
// bytes of hostile text.
func advTextBound(n int) uint64 { return 16<<20 + 12*uint64(n) }

// advEnv is what a case's setup builds and its act works on.
type advEnv struct {
	root    string // the case's root: module tree, modprobe.d, "outside"
	dir     string // the module directory, root/lib/modules/advRelease
	conf    string // the modprobe.d directory, root/conf
	outside string // a canary directory hostile paths aim at
	k       *modprobetest.Kernel
	log     *advLog
	// unblock, if set, is called when the act overruns its time limit,
	// to release a call blocked on a FIFO.
	unblock func()
	// maxModuleSize, if set, is the Loaders' MaxModuleSize.
	maxModuleSize int64
	// vals holds case-specific values from setup for act and post.
	vals map[string]string
	// kern, if set, replaces the fake kernel in the Loaders (e.k then
	// sees nothing).
	kern modprobe.Kernel
	// input is the hostile input setup built for act (built there so that
	// building it is not measured).
	input []string
}

// withInput returns a setup building an environment without modules and
// the input mk returns for size n.
func withInput(mk func(n int) []string) func(t *testing.T, n int) *advEnv {
	return func(t *testing.T, n int) *advEnv {
		e := advTree(t)
		e.input = mk(n)
		return e
	}
}

// advHandler is a slog.Handler that keeps the start of each message in an
// advLog, without the copies a text handler's quoting makes, so that the
// measurements are the library's.
type advHandler struct{ log *advLog }

func (h advHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h advHandler) Handle(_ context.Context, r slog.Record) error {
	h.log.add(r.Message)
	return nil
}
func (h advHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h advHandler) WithGroup(string) slog.Handler      { return h }

// advLog collects the messages of Loaders and depmod.
type advLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *advLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Keep the log small: the 10 MB cases log 10 MB lines.
	if len(s) > 512 {
		s = s[:512] + "..."
	}
	l.buf.WriteString(s)
	l.buf.WriteByte('\n')
}

func (l *advLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// advCheck checks an act's error; it returns a complaint or "".
type advCheck func(err error) string

func advNoError() advCheck {
	return func(err error) string {
		if err != nil {
			return fmt.Sprintf("want no error, got %v", err)
		}
		return ""
	}
}

// advIs wants an error wrapping one of the targets.
func advIs(targets ...error) advCheck {
	return func(err error) string {
		for _, t := range targets {
			if errors.Is(err, t) {
				return ""
			}
		}
		return fmt.Sprintf("want an error wrapping %v, got %v", targets, err)
	}
}

// advText wants an error whose message holds every substring.
func advText(subs ...string) advCheck {
	return func(err error) string {
		if err == nil {
			return fmt.Sprintf("want an error containing %q, got nil", subs)
		}
		for _, s := range subs {
			if !strings.Contains(err.Error(), s) {
				return fmt.Sprintf("want an error containing %q, got %v", s, advShort(err.Error()))
			}
		}
		return ""
	}
}

// advNilOr accepts no error or one wrapping a target.
func advNilOr(targets ...error) advCheck {
	return func(err error) string {
		if err == nil {
			return ""
		}
		return advIs(targets...)(err)
	}
}

// advEither accepts no error and any error: for inputs that are valid
// but huge, which a parser may take or refuse with a limit of its own; the
// case is about its bounds.
func advEither() advCheck { return func(error) string { return "" } }

// advAny accepts what any of the checks accepts.
func advAny(checks ...advCheck) advCheck {
	return func(err error) string {
		var complaints []string
		for _, c := range checks {
			s := c(err)
			if s == "" {
				return ""
			}
			complaints = append(complaints, s)
		}
		return strings.Join(complaints, "; or ")
	}
}

// advAll combines checks.
func advAll(checks ...advCheck) advCheck {
	return func(err error) string {
		for _, c := range checks {
			if s := c(err); s != "" {
				return s
			}
		}
		return ""
	}
}

func advShort(s string) string {
	if len(s) > 400 {
		return s[:400] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}

// advCase is one row of the table.
type advCase struct {
	name     string
	category string
	// size is the size of the hostile input given to setup: bytes of
	// text, a chain's depth, a fan-out's width; 0 when fixed.
	size int
	// text makes the memory bound advTextBound(size) instead of
	// advFixedBound.
	text bool
	// pilot runs the case at size/16 and size/8 before the full size.
	pilot bool
	// timeout overrides advTimeout.
	timeout time.Duration
	setup   func(t *testing.T, n int) *advEnv
	act     func(ctx context.Context, t *testing.T, e *advEnv) error
	want    advCheck
	// inserted lists the modules the fake kernel must have inserted
	// successfully, in order; nil means none. anyInserts skips the check
	// (the case checks them itself).
	inserted   []string
	anyInserts bool
	// writes lists the paths (relative to root, prefixes) the act may
	// create or change.
	writes []string
	post   func(t *testing.T, e *advEnv)
}

func (c *advCase) memBound() uint64 {
	if c.text {
		return advTextBound(c.size)
	}
	return advFixedBound
}

func (c *advCase) limit() time.Duration {
	if c.timeout != 0 {
		return c.timeout
	}
	return advTimeout
}

// advResult is what running an act gave.
type advResult struct {
	err      error
	msg      string // the error's message, shortened (Error() once: some are 10 MB)
	panicked any
	hung     bool
	total    uint64 // cumulative allocation
	peak     uint64 // peak heap growth, sampled
	elapsed  time.Duration
	cpu      time.Duration // the process's CPU time during the act
}

// advCPU returns the CPU time the process has used: a measure of work
// that, unlike the wall clock, other processes on the machine do not
// inflate.
func advCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// advRun runs act under the watchdog and measures it.
func advRun(t *testing.T, c *advCase, e *advEnv) advResult {
	ctx, cancel := context.WithTimeout(context.Background(), c.limit())
	defer cancel()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var r advResult
	r.peak = memtest.PeakHeap(func() {
		done := make(chan struct{})
		start, cpu0 := time.Now(), advCPU()
		go func() {
			defer close(done)
			defer func() { r.panicked = recover() }()
			r.err = c.act(ctx, t, e)
		}()
		select {
		case <-done:
		case <-time.After(c.limit() + advGrace):
			r.hung = true
			// Release the act from every FIFO it opens, as often as needed.
			if e.unblock != nil {
				go func() {
					for {
						select {
						case <-done:
							return
						default:
							e.unblock()
						}
					}
				}()
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: the act still runs %v after its limit and cannot be unblocked", c.name, time.Since(start))
			}
		}
		r.elapsed, r.cpu = time.Since(start), advCPU()-cpu0
		r.msg = "<nil>"
		if r.err != nil {
			r.msg = advShort(r.err.Error())
		}
	})
	runtime.ReadMemStats(&after)
	r.total = after.TotalAlloc - before.TotalAlloc
	return r
}

// advStat remembers the measurements for the summary.
type advStat struct {
	name, category string
	total, peak    uint64
	bound          uint64
	cpu            time.Duration
}

func TestAdversarialInputs(t *testing.T) {
	cases := advCases()
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	seen := map[string]bool{}
	var stats []advStat
	start := time.Now()
	for i := range cases {
		c := &cases[i]
		if seen[c.name] {
			t.Fatalf("duplicate case %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.category+"/"+c.name, func(t *testing.T) {
			st := advStat{name: c.name, category: c.category, bound: c.memBound()}
			defer func() { stats = append(stats, st) }()
			if c.pilot && c.size >= 16 {
				if complaint := advPilot(t, c); complaint != "" {
					t.Error(complaint)
					return
				}
			}
			e := c.setup(t, c.size)
			snap := advSnapshot(t, e.root)
			r := advRun(t, c, e)
			st.total, st.peak, st.cpu = r.total, r.peak, r.cpu
			t.Logf("%s: %v; allocated %s (bound %s), peak heap +%s, %v (CPU %v)",
				c.name, r.msg, advMiB(r.total), advMiB(c.memBound()), advMiB(r.peak), r.elapsed.Round(time.Millisecond), r.cpu.Round(time.Millisecond))
			if r.panicked != nil {
				t.Fatalf("panic: %v", r.panicked)
			}
			if r.hung {
				t.Errorf("hang: the act did not return within %v (it returned %v after being unblocked)", c.limit()+advGrace, r.msg)
			} else if r.elapsed > c.limit() {
				t.Errorf("took %v, over the limit of %v", r.elapsed, c.limit())
			}
			if r.cpu > advCPULimit {
				t.Errorf("used %v of CPU, over the limit of %v", r.cpu, advCPULimit)
			}
			if complaint := c.want(r.err); complaint != "" {
				t.Error(complaint)
			}
			if r.total > c.memBound() {
				t.Errorf("allocated %s, over the bound of %s", advMiB(r.total), advMiB(c.memBound()))
			}
			if e.k != nil {
				if !c.anyInserts {
					if got := e.k.Inserted(); !slices.Equal(got, c.inserted) {
						t.Errorf("kernel inserted %q, want %q", got, c.inserted)
					}
				}
				if rm := e.k.Removes(); len(rm) > 0 {
					t.Errorf("kernel removed modules: %+v", rm)
				}
			}
			advCheckWrites(t, e.root, snap, c.writes)
			if c.post != nil {
				c.post(t, e)
			}
		})
	}
	var maxText, maxFixed, maxCPU advStat
	var cpu time.Duration
	for _, s := range stats {
		cpu += s.cpu
		if s.cpu >= maxCPU.cpu {
			maxCPU = s
		}
		if s.bound == advFixedBound {
			if s.total >= maxFixed.total {
				maxFixed = s
			}
		} else if s.total >= maxText.total {
			maxText = s
		}
	}
	t.Logf("%d cases in %v (acts: %v of CPU, at most %v: %s); largest allocation with the fixed bound: %s (%s); with a text bound: %s (%s)",
		len(cases), time.Since(start).Round(time.Millisecond), cpu.Round(time.Millisecond), maxCPU.cpu.Round(time.Millisecond), maxCPU.name,
		advMiB(maxFixed.total), maxFixed.name, advMiB(maxText.total), maxText.name)
}

// advPilot runs c at 1/16 and 1/8 of its size and returns a complaint when
// the full run would break its bounds: allocation or time growing faster
// than linearly, or a linear projection over the bound.
func advPilot(t *testing.T, c *advCase) string {
	var rs [2]advResult
	for i, div := range []int{16, 8} {
		n := c.size / div
		e := c.setup(t, n)
		rs[i] = advRun(t, c, e)
		t.Logf("pilot at %d: %v; allocated %s in %v (CPU %v)", n, rs[i].msg, advMiB(rs[i].total), rs[i].elapsed.Round(time.Millisecond), rs[i].cpu.Round(time.Millisecond))
		if rs[i].panicked != nil {
			return fmt.Sprintf("pilot at size %d: panic: %v", n, rs[i].panicked)
		}
		if rs[i].hung {
			return fmt.Sprintf("pilot at size %d: hang", n)
		}
	}
	small, big := rs[0], rs[1]
	if big.total > 4<<20 && float64(big.total) > 3*float64(small.total) {
		return fmt.Sprintf("allocation grows faster than the input: %s at size %d, %s at size %d (x%.1f for x2); the full size %d would need about %s",
			advMiB(small.total), c.size/16, advMiB(big.total), c.size/8, float64(big.total)/float64(small.total), c.size,
			advMiB(uint64(float64(big.total)*64)))
	}
	if proj := big.total * 8; proj > c.memBound() {
		return fmt.Sprintf("allocation at size %d is %s; the full size %d would allocate about %s, over the bound of %s",
			c.size/8, advMiB(big.total), c.size, advMiB(proj), advMiB(c.memBound()))
	}
	if proj := big.cpu * 8; proj > advCPULimit {
		return fmt.Sprintf("size %d used %v of CPU; the full size would use about %v, over the limit of %v", c.size/8, big.cpu, proj, advCPULimit)
	}
	return ""
}

func advMiB(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// advFileState is what advSnapshot records of one file.
type advFileState struct {
	mode  fs.FileMode
	size  int64
	mtime time.Time
	link  string
}

// advSnapshot records every entry under root, without following links.
func advSnapshot(t *testing.T, root string) map[string]advFileState {
	t.Helper()
	out := map[string]advFileState{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		st := advFileState{mode: fi.Mode(), mtime: fi.ModTime()}
		if fi.Mode().IsRegular() {
			st.size = fi.Size()
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			st.link, _ = os.Readlink(p)
		}
		out[rel] = st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// advCheckWrites fails the test when anything under root changed outside
// the allowed prefixes.
func advCheckWrites(t *testing.T, root string, before map[string]advFileState, allowed []string) {
	t.Helper()
	after := advSnapshot(t, root)
	ok := func(rel string) bool {
		for _, a := range allowed {
			if strings.HasPrefix(rel, a) {
				return true
			}
		}
		return false
	}
	for rel, st := range after {
		old, had := before[rel]
		switch {
		case !had && !ok(rel):
			t.Errorf("the act created %s", rel)
		case had && old != st && !ok(rel) && !(st.mode.IsDir() && old.mode == st.mode):
			t.Errorf("the act changed %s", rel)
		}
	}
	for rel := range before {
		if _, has := after[rel]; !has && !ok(rel) {
			t.Errorf("the act removed %s", rel)
		}
	}
}

// advTree returns an environment with a module tree of real ELF modules
// (text indexes, as modprobetest.WriteTree writes them), an empty
// modprobe.d, a canary directory and a fake kernel.
func advTree(t *testing.T, mods ...modprobetest.Module) *advEnv {
	t.Helper()
	root := t.TempDir()
	e := &advEnv{
		root:    root,
		conf:    filepath.Join(root, "conf"),
		outside: filepath.Join(root, "outside"),
		k:       modprobetest.NewKernel(t),
		log:     &advLog{},
		vals:    map[string]string{},
	}
	if err := os.MkdirAll(filepath.Join(root, "lib/modules", advRelease), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := modprobetest.WriteTree(root, advRelease, mods...)
	if err != nil {
		t.Fatal(err)
	}
	e.dir = dir
	for _, d := range []string{e.conf, e.outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.writeFile(t, filepath.Join(e.outside, "canary"), "canary\n")
	return e
}

// writeFile writes content at path (absolute, or relative to the module
// directory), creating directories.
func (e *advEnv) writeFile(t *testing.T, path, content string) {
	t.Helper()
	if !filepath.IsAbs(path) {
		path = filepath.Join(e.dir, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// advModuleImage returns the ELF image of a module named name with a
// standard .modinfo.
func advModuleImage(t *testing.T, name string, more ...string) []byte {
	t.Helper()
	m := &testmod.Module{Name: name, ModInfo: append(testmod.StandardModInfo(name, testmod.DefaultVermagic(advRelease)), more...)}
	img, err := m.ELF()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// loader opens a Loader on the environment, reading modprobe.d from
// e.conf, with messages going to e.log.
func (e *advEnv) loader(t *testing.T) (*modprobe.Loader, error) {
	opts := e.k.Options(modprobe.Options{
		RootDir:       e.root,
		KernelRelease: advRelease,
		ConfigPaths:   []string{e.conf},
		Logger:        slog.New(advHandler{e.log}),
		MaxModuleSize: e.maxModuleSize,
	})
	if e.kern != nil {
		opts.Kernel = e.kern
	}
	l, err := modprobe.Open(opts)
	if err == nil {
		t.Cleanup(func() { l.Close() })
	}
	return l, err
}

// load opens a Loader and loads name.
func (e *advEnv) load(ctx context.Context, t *testing.T, name string, params ...string) error {
	l, err := e.loader(t)
	if err != nil {
		return err
	}
	return l.Load(ctx, name, params...)
}

// plan opens a Loader and plans name as --show-depends does; it returns
// the plan's number of actions in e.vals["actions"].
func (e *advEnv) plan(ctx context.Context, t *testing.T, name string) error {
	l, err := e.loader(t)
	if err != nil {
		return err
	}
	p, err := l.Plan(ctx, name, nil, modprobe.PlanOptions{IgnoreLoaded: true})
	if err != nil {
		return err
	}
	n := 0
	for _, pr := range p.Probes {
		n += len(pr.Actions)
	}
	e.vals["probes"] = fmt.Sprint(len(p.Probes))
	e.vals["actions"] = fmt.Sprint(n)
	return nil
}

// advLogHas returns a post-condition that the log holds every substring.
func advLogHas(subs ...string) func(t *testing.T, e *advEnv) {
	return func(t *testing.T, e *advEnv) {
		t.Helper()
		log := e.log.String()
		for _, s := range subs {
			if !strings.Contains(log, s) {
				t.Errorf("log lacks %q:\n%s", s, advShort(log))
			}
		}
	}
}

// advVal returns a post-condition that e.vals[key] is want.
func advVal(key, want string) func(t *testing.T, e *advEnv) {
	return func(t *testing.T, e *advEnv) {
		t.Helper()
		if got := e.vals[key]; got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
}

// advFIFO makes a FIFO at path and sets e.unblock to open it for writing
// and close it, which releases a reader blocked in open(2).
func (e *advEnv) fifo(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	prev := e.unblock
	e.unblock = func() {
		if prev != nil {
			prev()
		}
		// Retry: the reader may not be in open(2) yet. Opening for
		// writing without blocking succeeds only once a reader waits.
		for range 25 {
			if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func advCases() []advCase {
	var cases []advCase
	cases = append(cases, advModdepCases()...)
	cases = append(cases, advNameCases()...)
	cases = append(cases, advConfigCases()...)
	cases = append(cases, advIndexCases()...)
	cases = append(cases, advCompressCases()...)
	cases = append(cases, advELFCases()...)
	cases = append(cases, advImageCases()...)
	cases = append(cases, advImageIntegrityCases()...)
	cases = append(cases, advAdapterCases()...)
	cases = append(cases, advDepmodCases()...)
	cases = append(cases, advShellCases()...)
	cases = append(cases, advWorkerPathCases()...)
	cases = append(cases, advInputCases()...)
	cases = append(cases, advLinearCases()...)
	return cases
}

// advPlain is the usual tree: a, b needing a, and evil, which setups move
// outside the module directory.
func advPlain(t *testing.T) *advEnv {
	return advTree(t,
		modprobetest.Module{Name: "a"},
		modprobetest.Module{Name: "b", Depends: []string{"a"}},
		modprobetest.Module{Name: "evil"},
	)
}

// withDep returns a setup writing the plain tree with modules.dep set to
// dep, and evil.ko moved out of the module tree to the canary directory
// (root/outside, that is MODULEDIR/../../../outside).
func withDep(dep func(e *advEnv) string) func(t *testing.T, n int) *advEnv {
	return func(t *testing.T, n int) *advEnv {
		e := advPlain(t)
		if err := os.Rename(filepath.Join(e.dir, "kernel/evil.ko"), filepath.Join(e.outside, "evil.ko")); err != nil {
			t.Fatal(err)
		}
		e.writeFile(t, "modules.dep", dep(e))
		return e
	}
}

// withDepN is withDep for a modules.dep made from the input size.
func withDepN(dep func(n int) string) func(t *testing.T, n int) *advEnv {
	return func(t *testing.T, n int) *advEnv {
		return withDep(func(*advEnv) string { return dep(n) })(t, n)
	}
}

// withLoop adds the symlink loop kernel/loop.ko -> loop.ko to a setup.
func withLoop(setup func(t *testing.T, n int) *advEnv) func(t *testing.T, n int) *advEnv {
	return func(t *testing.T, n int) *advEnv {
		e := setup(t, n)
		if err := os.Symlink("loop.ko", filepath.Join(e.dir, "kernel/loop.ko")); err != nil {
			t.Fatal(err)
		}
		return e
	}
}

func advModdepCases() []advCase {
	const cat = "moddep"
	loadA := func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, "a") }
	return []advCase{
		{
			// The dependency names a file that does not exist: libkmod
			// logs it and drops the line's dependencies; a still loads.
			name: "dep climbing to a missing file", category: cat,
			setup: withDep(func(e *advEnv) string {
				return "kernel/a.ko: ../../../../../../../../../../etc/gokmod-evil.ko\n"
			}),
			act:  loadA,
			want: advNoError(), inserted: []string{"a"},
			post: advLogHas("gokmod-evil.ko error=No such file or directory"),
		},
		{
			// The administrator's modules.dep names an existing file
			// outside the module directory: libkmod joins the path without
			// cleaning it and loads the file, and so does gokmod.
			name: "dep climbing to an existing file", category: cat,
			setup: withDep(func(e *advEnv) string { return "kernel/a.ko: ../../../outside/evil.ko\n" }),
			act:   loadA,
			want:  advNoError(), inserted: []string{"evil", "a"},
			post: func(t *testing.T, e *advEnv) {
				if got, want := e.k.Inserts()[0].File, e.dir+"/../../../outside/evil.ko"; got != want {
					t.Errorf("evil inserted from %s, want kmod's unclean join %s", got, want)
				}
			},
		},
		{
			name: "absolute dep path", category: cat,
			setup: withDep(func(e *advEnv) string { return "kernel/a.ko: " + e.outside + "/evil.ko\n" }),
			act:   loadA,
			want:  advNoError(), inserted: []string{"evil", "a"},
			post: func(t *testing.T, e *advEnv) {
				if got := e.k.Inserts()[0].File; got != e.outside+"/evil.ko" {
					t.Errorf("evil inserted from %s, want the absolute path as written", got)
				}
			},
		},
		{
			name: "own path climbing out", category: cat,
			setup: withDep(func(e *advEnv) string { return "../../../outside/evil.ko:\nkernel/a.ko:\n" }),
			act:   func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, "evil") },
			want:  advNoError(), inserted: []string{"evil"},
		},
		{
			name: "dep through a symlink loop", category: cat,
			setup: withLoop(withDep(func(e *advEnv) string {
				return "kernel/a.ko: kernel/loop.ko\nkernel/loop.ko:\n"
			})),
			act:  loadA,
			want: advNoError(), inserted: []string{"a"},
			post: advLogHas("loop.ko error=Too many levels of symbolic links"),
		},
		{
			name: "module file is a symlink loop", category: cat,
			setup: withLoop(withDep(func(e *advEnv) string { return "kernel/loop.ko:\n" })),
			act:   func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, "loop") },
			want:  advIs(syscall.ELOOP),
		},
		{
			// open(2) of a FIFO blocks until a writer comes: the Loader
			// must refuse what is not a regular file instead of waiting.
			name: "module file is a FIFO", category: cat, timeout: time.Second,
			setup: func(t *testing.T, n int) *advEnv {
				e := advPlain(t)
				if err := os.Remove(filepath.Join(e.dir, "kernel/a.ko")); err != nil {
					t.Fatal(err)
				}
				e.fifo(t, filepath.Join(e.dir, "kernel/a.ko"))
				return e
			},
			act:  loadA,
			want: advAny(advIs(syscall.ENOEXEC, syscall.EINVAL, fs.ErrInvalid), advText("regular")),
		},
		{
			// The exported readers of module files (modinfo and depmod
			// style tools use them) must not wait on a FIFO either.
			name: "ReadModuleFile and MapModuleFile of a FIFO", category: cat, timeout: time.Second,
			setup: func(t *testing.T, n int) *advEnv {
				e := advPlain(t)
				e.fifo(t, filepath.Join(e.dir, "kernel/fifo.ko"))
				return e
			},
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				p := filepath.Join(e.dir, "kernel/fifo.ko")
				if _, err := modprobe.ReadModuleFile(p, 0); err == nil {
					return errors.New("ReadModuleFile read a FIFO")
				}
				_, release, err := modprobe.MapModuleFile(p, 0)
				release()
				return err
			},
			want: advAny(advIs(syscall.ENOEXEC, syscall.EINVAL, fs.ErrInvalid), advText("regular")),
		},
		{
			// A NUL byte cannot be stored in an index: the text modules.dep
			// line is reported and skipped, so a does not exist.
			name: "NUL byte in a dep path", category: cat,
			setup: withDep(func(e *advEnv) string { return "kernel/a.ko: kernel/b\x00evil.ko\nkernel/b.ko:\n" }),
			act:   loadA,
			want:  advIs(modprobe.ErrNotFound),
			post:  advLogHas("modules.dep:1:"),
		},
		{
			// A 10 MB path cannot be joined in PATH_MAX: libkmod's message,
			// and a loads without it.
			name: "10 MB dep path", category: cat, size: advBig, text: true,
			setup: withDepN(func(n int) string { return "kernel/a.ko: " + strings.Repeat("x", n) + "\n" }),
			act:   loadA,
			want:  advNoError(), inserted: []string{"a"},
			post: advLogHas("could not join path"),
		},
		{
			// The module's own path does not fit in PATH_MAX: it has no
			// file, and the load fails as for a missing module.
			name: "10 MB own path", category: cat, size: advBig, text: true,
			setup: withDepN(func(n int) string { return strings.Repeat("y", n) + "/big.ko:\n" }),
			act:   func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, "big") },
			want:  advIs(modprobe.ErrNotFound),
		},
		{
			// One modules.dep line of 10 MB naming the same dependency
			// 870,000 times: depmod never writes that. libkmod's probe
			// list holds one entry per copy (and modprobe -D prints
			// each), so the plan does too, but it stays linear in the
			// line: the file is stat'ed once, not once per copy.
			name: "10 MB line of repeated deps", category: cat, size: advBig, text: true, pilot: true,
			setup: func(t *testing.T, n int) *advEnv {
				e := withDepN(func(n int) string {
					return "kernel/a.ko:\nkernel/c.ko: " + strings.Repeat("kernel/a.ko ", n/12) + "\n"
				})(t, n)
				e.vals["n"] = fmt.Sprint(n / 12)
				return e
			},
			act:  func(ctx context.Context, t *testing.T, e *advEnv) error { return e.plan(ctx, t, "c") },
			want: advNoError(),
			post: advChainLength,
		},
	}
}

func advNameCases() []advCase {
	const cat = "name"
	// setup with a and evil.ko outside the module directory, and a live
	// module "live" that a removal must not touch.
	setup := func(t *testing.T, n int) *advEnv {
		e := advPlain(t)
		if err := e.k.Preload("live"); err != nil {
			t.Fatal(err)
		}
		return e
	}
	load := func(name string, params ...string) func(ctx context.Context, t *testing.T, e *advEnv) error {
		return func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, name, params...) }
	}
	lookup := func(name string) func(ctx context.Context, t *testing.T, e *advEnv) error {
		return func(ctx context.Context, t *testing.T, e *advEnv) error {
			l, err := e.loader(t)
			if err != nil {
				return err
			}
			n := name
			if n == "" {
				n = e.input[0]
			}
			_, err = l.Lookup(ctx, n)
			return err
		}
	}
	big := func(prefix string) func(t *testing.T, n int) *advEnv {
		return func(t *testing.T, n int) *advEnv {
			e := setup(t, n)
			e.input = []string{prefix + strings.Repeat("n", n)}
			return e
		}
	}
	stillLive := func(t *testing.T, e *advEnv) {
		if !e.k.IsLive("live") {
			t.Error("module live was removed")
		}
	}
	return []advCase{
		{name: `load "-r"`, category: cat, setup: setup, act: load("-r", "live"), want: advIs(modprobe.ErrBadName), post: stillLive},
		{name: `load "--force"`, category: cat, setup: setup, act: load("--force"), want: advIs(modprobe.ErrBadName)},
		{name: "load with a NUL byte", category: cat, setup: setup, act: load("a\x00evil"), want: advIs(modprobe.ErrBadName)},
		{name: "load of a path", category: cat, setup: setup, act: load("../../../outside/evil"), want: advIs(modprobe.ErrBadName)},
		{name: "lookup with a NUL byte", category: cat, setup: setup, act: lookup("a\x00"), want: advIs(modprobe.ErrBadName)},
		{name: "lookup with an unmatched bracket", category: cat, setup: setup, act: lookup("a[b"), want: advIs(modprobe.ErrBadName)},
		{name: "10 MB name", category: cat, size: advBig, text: true, setup: big(""), act: lookup(""), want: advIs(modprobe.ErrBadName, modprobe.ErrNotFound)},
		{name: "parameter with a NUL byte", category: cat, setup: setup, act: load("a", "x=1\x00evil=1"), want: advIs(modprobe.ErrBadParams)},
		{name: "parameter with a newline", category: cat, setup: setup, act: load("a", "x=1\nevil=1"), want: advIs(modprobe.ErrBadParams)},
		{
			// A 10 MB parameter is one parameter: it reaches the kernel
			// whole (the kernel bounds it), with one copy or two.
			name: "10 MB parameter", category: cat, size: advBig, text: true, setup: big("x="),
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				return e.load(ctx, t, "a", e.input[0])
			},
			want: advNoError(), inserted: []string{"a"},
		},
		{
			name: `remove "-r" and "--force"`, category: cat, setup: setup,
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				l, err := e.loader(t)
				if err != nil {
					return err
				}
				return l.Remove(ctx, "-r", "--force", "-f", "live\x00")
			},
			want: advIs(modprobe.ErrNotFound, modprobe.ErrBadName),
			post: stillLive,
		},
	}
}

// advChain writes the builtin modules m1..mN and a real module m0, with a
// softdep chain m0 -> m1 -> ... -> mN in modprobe.d (each m_i's softdep
// names m_i+1, pre or post).
func advChain(kind string) func(t *testing.T, n int) *advEnv {
	return func(t *testing.T, n int) *advEnv {
		e := advTree(t, modprobetest.Module{Name: "m0"})
		var bi, conf strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&bi, "kernel/m%d.ko\n", i)
		}
		for i := range n {
			fmt.Fprintf(&conf, "softdep m%d %s: m%d\n", i, kind, i+1)
		}
		e.writeFile(t, "modules.builtin", bi.String())
		e.writeFile(t, filepath.Join(e.conf, "chain.conf"), conf.String())
		e.vals["n"] = fmt.Sprint(n)
		return e
	}
}

// advChainLength checks that a plan has e.vals["n"]+1 actions: one per
// module of a chain, or one per copy of a repeated dependency and the
// module itself.
func advChainLength(t *testing.T, e *advEnv) {
	n := 0
	fmt.Sscan(e.vals["n"], &n)
	advVal("actions", fmt.Sprint(n+1))(t, e)
}

// advAliasLines writes n modules f0000.. without files in modules.dep and
// n alias lines (format, given the module's number) to the file file
// names, relative to the module directory or absolute.
func advAliasLines(file func(e *advEnv) string, format string) func(t *testing.T, n int) *advEnv {
	return func(t *testing.T, n int) *advEnv {
		e := advTree(t)
		var alias, dep strings.Builder
		for i := range n {
			fmt.Fprintf(&alias, format, i)
			fmt.Fprintf(&dep, "kernel/f%04d.ko:\n", i)
		}
		e.writeFile(t, file(e), alias.String())
		e.writeFile(t, "modules.dep", dep.String())
		e.vals["n"] = fmt.Sprint(n)
		return e
	}
}

// advCountingKernel is a Kernel that only records the files it is given:
// for the fan-out load, whose cost must be the Loader's alone (the fake
// kernel rewrites /proc/modules whole at every insert, which is quadratic
// in itself).
type advCountingKernel struct {
	mu    sync.Mutex
	files []string
}

func (k *advCountingKernel) FinitModule(f *os.File, params string, flags modprobe.InitFlags) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.files = append(k.files, filepath.Base(f.Name()))
	return nil
}

func (k *advCountingKernel) InitModule(image []byte, params string) error { return syscall.ENOSYS }

func (k *advCountingKernel) DeleteModule(name string, flags modprobe.DeleteFlags) error {
	return syscall.ENOSYS
}

// advFanout writes n real modules f0000.. each with the alias "fan:*" in
// modules.alias, and loads them into an advCountingKernel.
func advFanout(t *testing.T, n int) *advEnv {
	var mods []modprobetest.Module
	for i := range n {
		mods = append(mods, modprobetest.Module{Name: fmt.Sprintf("f%04d", i), Aliases: []string{"fan:*"}})
	}
	e := advTree(t, mods...)
	e.vals["n"] = fmt.Sprint(n)
	e.kern = &advCountingKernel{}
	return e
}

func advConfigCases() []advCase {
	const cat = "config"
	confSetup := func(content func(n int) string) func(t *testing.T, n int) *advEnv {
		return func(t *testing.T, n int) *advEnv {
			e := advTree(t, modprobetest.Module{Name: "a", Params: []string{"x:int"}})
			e.writeFile(t, filepath.Join(e.conf, "hostile.conf"), content(n))
			return e
		}
	}
	loadA := func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, "a") }
	return []advCase{
		{
			name: "10 MB bad line", category: cat, size: advBig, text: true,
			setup: confSetup(func(n int) string { return strings.Repeat("z", n) + "\noptions a x=1\n" }),
			act:   loadA,
			want:  advNoError(), inserted: []string{"a"},
			post: func(t *testing.T, e *advEnv) {
				advLogHas("ignoring bad line starting with 'zzzz")(t, e)
				if p := e.k.Inserts()[0].Params; p != "x=1 " {
					t.Errorf("a got %q", p)
				}
			},
		},
		{
			// kmod passes a 10 MB options line on; so does gokmod, whole.
			name: "10 MB options line", category: cat, size: advBig, text: true,
			setup: confSetup(func(n int) string { return "options a y=" + strings.Repeat("y", n) + "\n" }),
			act:   loadA,
			want:  advNoError(), inserted: []string{"a"},
			post: func(t *testing.T, e *advEnv) {
				if p := e.k.Inserts()[0].Params; len(p) != advBig+3 || !strings.HasPrefix(p, "y=yyy") {
					t.Errorf("a got %d bytes of parameters: %.20q", len(p), p)
				}
			},
		},
		{
			name: "10 MB alias line", category: cat, size: advBig, text: true,
			setup: confSetup(func(n int) string { return "alias " + strings.Repeat("q", n) + " a\n" }),
			act:   func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, "qqqq") },
			want:  advIs(modprobe.ErrNotFound),
		},
		{
			// A NUL byte ends a line, as for kmod's line reader: what
			// follows it never reaches the kernel, and "install\0" is a
			// bad line, not a command.
			name: "NUL bytes", category: cat,
			setup: confSetup(func(int) string {
				return "options a x=1\x00 evil=1\ninstall\x00 a touch /tmp/gokmod-adv-evil\nalias ev\x00il a\n"
			}),
			act:  loadA,
			want: advNoError(), inserted: []string{"a"},
			post: func(t *testing.T, e *advEnv) {
				if p := e.k.Inserts()[0].Params; strings.ContainsAny(p, "\x00") || strings.Contains(p, "evil") {
					t.Errorf("a got %q", p)
				}
				if _, err := os.Stat("/tmp/gokmod-adv-evil"); err == nil {
					t.Error("the install command ran")
				}
			},
		},
		{
			// A FIFO in modprobe.d: the documented rule is "regular
			// files, or a device"; open(2) of a FIFO blocks.
			name: "FIFO in modprobe.d", category: cat, timeout: time.Second,
			setup: func(t *testing.T, n int) *advEnv {
				e := advTree(t, modprobetest.Module{Name: "a"})
				e.fifo(t, filepath.Join(e.conf, "fifo.conf"))
				return e
			},
			act:  loadA,
			want: advNoError(), inserted: []string{"a"},
		},
		{
			// A device that never ends is cut at config.MaxFileSize (64
			// MiB) and holds no line.
			name: "modprobe.d file linked to /dev/zero", category: cat, size: 64 << 20, text: true,
			setup: func(t *testing.T, n int) *advEnv {
				e := advTree(t, modprobetest.Module{Name: "a"})
				if err := os.Symlink("/dev/zero", filepath.Join(e.conf, "zero.conf")); err != nil {
					t.Fatal(err)
				}
				return e
			},
			act:  loadA,
			want: advNoError(), inserted: []string{"a"},
		},
		{
			name: "softdep chain 10,000 deep (pre)", category: cat, size: 10000, pilot: true,
			setup: advChain("pre"),
			act:   func(ctx context.Context, t *testing.T, e *advEnv) error { return e.plan(ctx, t, "m0") },
			want:  advNoError(),
			post:  advChainLength,
		},
		{
			name: "softdep chain 10,000 deep (post)", category: cat, size: 10000, pilot: true,
			setup: advChain("post"),
			act:   func(ctx context.Context, t *testing.T, e *advEnv) error { return e.plan(ctx, t, "m0") },
			want:  advNoError(),
			post:  advChainLength,
		},
		{
			// A parallel load schedules the chain: its constraints must
			// not be quadratic either. Every m_i is builtin; m0 goes in.
			name: "softdep chain 10,000 deep, parallel load", category: cat, size: 10000, pilot: true,
			setup: advChain("pre"),
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				l, err := e.loader(t)
				if err != nil {
					return err
				}
				return l.LoadWith(ctx, "m0", nil, modprobe.LoadOptions{Jobs: 2})
			},
			want: advNoError(), inserted: []string{"m0"},
		},
		{
			name: "softdep cycle", category: cat,
			setup: func(t *testing.T, n int) *advEnv {
				e := advTree(t, modprobetest.Module{Name: "a"}, modprobetest.Module{Name: "b"}, modprobetest.Module{Name: "c"})
				e.writeFile(t, filepath.Join(e.conf, "cycle.conf"), "softdep a pre: b post: c\nsoftdep b pre: a c\nsoftdep c pre: a b post: a\n")
				return e
			},
			act:  loadA,
			want: advNoError(), inserted: []string{"c", "b", "a"},
		},
		{
			// 5,000 alias lines for one name: Plan has 5,000 probes and
			// must stay linear.
			name: "alias fan-out to 5,000 modules (plan)", category: cat, size: 5000, pilot: true,
			setup: advAliasLines(func(e *advEnv) string { return filepath.Join(e.conf, "fan.conf") }, "alias cfan f%04d\n"),
			act:   func(ctx context.Context, t *testing.T, e *advEnv) error { return e.plan(ctx, t, "cfan") },
			want:  advNoError(),
			post:  func(t *testing.T, e *advEnv) { advVal("probes", e.vals["n"])(t, e) },
		},
		{
			// modules.alias patterns matching one name 5,000 times:
			// Lookup returns them all, in modules.alias order.
			name: "alias fan-out to 5,000 modules (lookup)", category: cat, size: 5000, pilot: true,
			setup: advAliasLines(func(*advEnv) string { return "modules.alias" }, "alias fan:* f%04d\n"),
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				l, err := e.loader(t)
				if err != nil {
					return err
				}
				mods, err := l.Lookup(ctx, "fan:x")
				for i, m := range mods {
					if want := fmt.Sprintf("f%04d", i); m.Name != want {
						return fmt.Errorf("module %d is %s, want %s", i, m.Name, want)
					}
				}
				e.vals["found"] = fmt.Sprint(len(mods))
				return err
			},
			want: advNoError(),
			post: func(t *testing.T, e *advEnv) { advVal("found", e.vals["n"])(t, e) },
		},
		{
			// A modules.alias pattern shared by 2,000 modules: a load
			// tries each, in modules.alias order, as modprobe does.
			name: "alias fan-out to 2,000 modules (load)", category: cat, size: 2000, pilot: true,
			setup: advFanout,
			act:   func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, "fan:x") },
			want:  advNoError(),
			post: func(t *testing.T, e *advEnv) {
				n := 0
				fmt.Sscan(e.vals["n"], &n)
				got := e.kern.(*advCountingKernel).files
				if len(got) != n {
					t.Fatalf("%d modules inserted, want %d", len(got), n)
				}
				for i, f := range got {
					if want := fmt.Sprintf("f%04d.ko", i); f != want {
						t.Fatalf("insert %d is %s, want %s (modules.alias order)", i, f, want)
					}
				}
			},
		},
	}
}

// advBinTree writes a tree with aliases, dependencies, symbols and a
// builtin module, and indexes it with depmod, so that every .bin exists.
func advBinTree(t *testing.T) *advEnv {
	t.Helper()
	e := advTree(t)
	tree := testmod.Tree{
		Release: advRelease,
		Modules: []testmod.TreeModule{
			{RelPath: "kernel/a.ko", Module: &testmod.Module{Name: "a", Exports: []string{"a_fn"},
				ModInfo: append(testmod.StandardModInfo("a", testmod.DefaultVermagic(advRelease)), testmod.Alias("pci:v0001d*"))}},
			{RelPath: "kernel/b.ko", Module: &testmod.Module{Name: "b", Uses: []string{"a_fn"},
				ModInfo: append(testmod.StandardModInfo("b", testmod.DefaultVermagic(advRelease), "a"), testmod.Alias("usb:v*"))}},
			{RelPath: "kernel/c.ko", Module: &testmod.Module{Name: "c",
				ModInfo: append(testmod.StandardModInfo("c", testmod.DefaultVermagic(advRelease)), testmod.Alias("pci:v*"))}},
		},
		Builtin: []string{"kernel/bi.ko"},
	}
	if err := os.RemoveAll(e.dir); err != nil {
		t.Fatal(err)
	}
	if _, err := tree.Write(e.root); err != nil {
		t.Fatal(err)
	}
	if err := depmod.Run(context.Background(), depmod.Options{BaseDir: e.root, Release: advRelease, ConfigPaths: []string{}}); err != nil {
		t.Fatal(err)
	}
	// The text files must not stand in for a broken .bin.
	for _, f := range []string{"modules.dep", "modules.alias", "modules.symbols", "modules.builtin", "modules.builtin.modinfo"} {
		if err := os.Remove(filepath.Join(e.dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	return e
}

// advBinNames are the names the index cases resolve.
var advBinNames = []string{"a", "b", "c", "bi", "pci:v0001d0002", "pci:v0003", "usb:v1", "symbol:a_fn", "zz"}

// advProbeIndexes looks up and plans every name of advBinNames with a
// fresh Loader; with load, it loads b and pci:v0001d0002 too. Errors other
// than "not found" are returned; a degraded result is fine. It returns
// how many lookups found something.
func advProbeIndexes(ctx context.Context, t *testing.T, e *advEnv, load bool) (int, error) {
	l, err := modprobe.Open(e.k.Options(modprobe.Options{
		RootDir: e.root, KernelRelease: advRelease, ConfigPaths: []string{},
		Logger: slog.New(advHandler{e.log}),
	}))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	var errs []error
	keep := func(err error) {
		if err != nil && !errors.Is(err, modprobe.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	found := 0
	for _, n := range advBinNames {
		mods, err := l.Lookup(ctx, n)
		if len(mods) > 0 {
			found++
		}
		keep(err)
		_, err = l.Plan(ctx, n, nil, modprobe.PlanOptions{IgnoreLoaded: true})
		keep(err)
	}
	if load {
		for _, n := range []string{"b", "pci:v0001d0002"} {
			err := l.Load(ctx, n)
			// A corrupt dep index may drop b's dependency: the fake
			// kernel then refuses b (Unknown symbol), as Linux would.
			if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOEXEC) {
				err = nil
			}
			keep(err)
		}
	}
	return found, errors.Join(errs...)
}

// advCorruptBin returns a case that runs advProbeIndexes on every variant
// of one .bin file that corrupt returns.
func advCorruptBin(name, file string, load bool, corrupt func(orig []byte) [][]byte) advCase {
	return advCase{
		name: name, category: "index",
		setup: func(t *testing.T, n int) *advEnv {
			e := advBinTree(t)
			orig, err := os.ReadFile(filepath.Join(e.dir, file))
			if err != nil {
				t.Fatal(err)
			}
			e.vals["orig"] = string(orig)
			return e
		},
		act: func(ctx context.Context, t *testing.T, e *advEnv) error {
			// The intact indexes resolve every name but "zz": the cases
			// below start from a tree that works.
			if found, err := advProbeIndexes(ctx, t, e, false); found != len(advBinNames)-1 || err != nil {
				return fmt.Errorf("intact indexes: %d names found, %v", found, err)
			}
			path := filepath.Join(e.dir, file)
			var errs []error
			total, variants := 0, corrupt([]byte(e.vals["orig"]))
			for i, v := range variants {
				if err := os.WriteFile(path, v, 0o644); err != nil {
					return err
				}
				found, err := advProbeIndexes(ctx, t, e, load)
				if err != nil {
					errs = append(errs, fmt.Errorf("variant %d: %w", i, err))
				}
				total += found
			}
			e.vals["found"] = fmt.Sprintf("%d of %d lookups found something", total, len(variants)*len(advBinNames))
			return errors.Join(errs...)
		},
		want:       advNoError(),
		anyInserts: true,
		writes:     []string{"lib/modules/" + advRelease + "/" + file},
		post: func(t *testing.T, e *advEnv) {
			t.Log(e.vals["found"])
			// Whatever a corrupt index says, only the tree's modules,
			// from the tree's files, reached the kernel.
			for _, in := range e.k.Inserts() {
				if in.Err == nil && (!slices.Contains([]string{"a", "b", "c"}, in.Module) || !strings.HasPrefix(in.File, e.dir+"/kernel/")) {
					t.Errorf("inserted %+v", in)
				}
			}
		},
	}
}

// advTruncations returns the file cut at every eighth of its length.
func advTruncations(orig []byte) [][]byte {
	var out [][]byte
	for i := range 8 {
		out = append(out, orig[:len(orig)*i/8])
	}
	return out
}

// advBitFlips returns n copies of the file with 1 to 4 bits flipped at
// random offsets, from a fixed seed.
func advBitFlips(seed int64, n int) func(orig []byte) [][]byte {
	return func(orig []byte) [][]byte {
		rng := rand.New(rand.NewSource(seed))
		var out [][]byte
		for range n {
			v := slices.Clone(orig)
			for range 1 + rng.Intn(4) {
				v[rng.Intn(len(v))] ^= 1 << rng.Intn(8)
			}
			out = append(out, v)
		}
		return out
	}
}

// advCyclicIndex returns a kmod index whose root has children 'a'..'z'
// that all point back at the root, which holds the value "a": every key
// over a-z exists, to any depth.
func advCyclicIndex() []byte {
	const root = 12
	w := uint32(0x20000000 | 0x40000000 | root) // children, values
	b := binary.BigEndian.AppendUint32(nil, index.Magic)
	b = binary.BigEndian.AppendUint32(b, index.VersionMajor<<16|index.VersionMinor)
	b = binary.BigEndian.AppendUint32(b, w)
	b = append(b, 'a', 'z')
	for range 26 {
		b = binary.BigEndian.AppendUint32(b, w)
	}
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = append(b, "kernel/a.ko:\x00"...)
	return b
}

func advIndexCases() []advCase {
	const cat = "index"
	notRegular := func(name string, mk func(t *testing.T, e *advEnv, path string)) advCase {
		return advCase{
			name: name, category: cat, timeout: time.Second,
			setup: func(t *testing.T, n int) *advEnv {
				e := advBinTree(t)
				p := filepath.Join(e.dir, "modules.dep.bin")
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				mk(t, e, p)
				return e
			},
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				l, err := e.loader(t)
				if err != nil {
					return err
				}
				return l.Load(ctx, "a")
			},
			// Without a usable modules.dep.bin (nor the text file, which
			// advBinTree removes), a cannot be found; the index is
			// reported, not waited on.
			want: advIs(modprobe.ErrNotFound),
		}
	}
	return []advCase{
		advCorruptBin("modules.dep.bin truncated at each eighth", "modules.dep.bin", true, advTruncations),
		advCorruptBin("modules.alias.bin truncated at each eighth", "modules.alias.bin", true, advTruncations),
		advCorruptBin("modules.symbols.bin truncated at each eighth", "modules.symbols.bin", false, advTruncations),
		advCorruptBin("modules.builtin.bin truncated at each eighth", "modules.builtin.bin", false, advTruncations),
		advCorruptBin("modules.dep.bin bit-flipped", "modules.dep.bin", false, advBitFlips(1, 64)),
		advCorruptBin("modules.alias.bin bit-flipped", "modules.alias.bin", false, advBitFlips(2, 64)),
		advCorruptBin("modules.symbols.bin bit-flipped", "modules.symbols.bin", false, advBitFlips(3, 64)),
		advCorruptBin("modules.builtin.bin bit-flipped", "modules.builtin.bin", false, advBitFlips(4, 64)),
		{
			// Child pointers forming cycles: every walk is bounded by the
			// file's size, so lookups end with few results.
			name: "cyclic .bin tries", category: cat,
			setup: func(t *testing.T, n int) *advEnv {
				e := advBinTree(t)
				for _, f := range []string{"modules.dep.bin", "modules.alias.bin", "modules.symbols.bin"} {
					e.writeFile(t, f, string(advCyclicIndex()))
				}
				return e
			},
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				l, err := e.loader(t)
				if err != nil {
					return err
				}
				var errs []error
				for _, n := range []string{"a", strings.Repeat("a", 5000), "abcxyz", "pci:*", "a*", "*"} {
					mods, err := l.Lookup(ctx, n)
					if err != nil && !errors.Is(err, modprobe.ErrNotFound) && !errors.Is(err, modprobe.ErrBadName) {
						errs = append(errs, err)
					}
					if len(mods) > 100 {
						errs = append(errs, fmt.Errorf("%q: %d modules", n, len(mods)))
					}
				}
				return errors.Join(errs...)
			},
			want: advNoError(),
		},
		notRegular("modules.dep.bin is a FIFO", func(t *testing.T, e *advEnv, p string) { e.fifo(t, p) }),
		notRegular("modules.dep.bin is a directory", func(t *testing.T, e *advEnv, p string) {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}),
		{
			// Without a .bin, the text modules.dep is read, but only from a
			// regular file: a FIFO is logged and skipped, not waited on.
			name: "text modules.dep is a FIFO", category: cat, timeout: time.Second,
			setup: func(t *testing.T, n int) *advEnv {
				e := advPlain(t)
				if err := os.Remove(filepath.Join(e.dir, "modules.dep")); err != nil {
					t.Fatal(err)
				}
				e.fifo(t, filepath.Join(e.dir, "modules.dep"))
				return e
			},
			act:  func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, "a") },
			want: advIs(modprobe.ErrNotFound),
		},
	}
}

// advBomb returns a file that decompresses to size zeros: 1 MiB of zeros
// compressed, repeated (xz streams, zstd frames and gzip members may all
// follow one another in one file), which is quicker to build than
// compressing the whole.
func advBomb(t *testing.T, c testmod.Compression, size int) []byte {
	t.Helper()
	advBombMu.Lock()
	defer advBombMu.Unlock()
	key := fmt.Sprint(c, size)
	if b, ok := advBombs[key]; ok {
		return b
	}
	one, err := testmod.Compress(make([]byte, 1<<20), c)
	if err != nil {
		t.Fatal(err)
	}
	b := bytes.Repeat(one, size>>20)
	advBombs[key] = b
	return b
}

// advBombs caches the bombs, which take seconds to build under -race.
var (
	advBombMu sync.Mutex
	advBombs  = map[string][]byte{}
)

// advZstdWindowBomb returns a zstd frame that declares a 2 GiB window and
// no content size, followed by RLE blocks of zeros.
func advZstdWindowBomb() []byte {
	f := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3} // FHD: no FCS; window 2^(10+21)
	const block = 128 << 10
	for i := range 512 {
		h := uint32(block<<3 | 1<<1) // RLE block
		if i == 511 {
			h |= 1
		}
		f = append(f, byte(h), byte(h>>8), byte(h>>16), 0)
	}
	return f
}

func advCompressCases() []advCase {
	const cat = "compress"
	bombTree := func(t *testing.T, n int) *advEnv {
		e := advTree(t,
			modprobetest.Module{Name: "a"},
			modprobetest.Module{Name: "bx", Path: "kernel/bx.ko.xz"},
			modprobetest.Module{Name: "bz", Path: "kernel/bz.ko.zst"},
			modprobetest.Module{Name: "bg", Path: "kernel/bg.ko.gz"},
			modprobetest.Module{Name: "user", Depends: []string{"a", "bx"}},
		)
		e.maxModuleSize = advBombLimit
		for file, c := range map[string]testmod.Compression{"bx.ko.xz": testmod.Xz, "bz.ko.zst": testmod.Zstd, "bg.ko.gz": testmod.Gzip} {
			e.writeFile(t, "kernel/"+file, string(advBomb(t, c, 64<<20)))
		}
		e.writeFile(t, "kernel/window.ko.zst", string(advZstdWindowBomb()))
		return e
	}
	load := func(name string) func(ctx context.Context, t *testing.T, e *advEnv) error {
		return func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, name) }
	}
	read := func(file string) func(ctx context.Context, t *testing.T, e *advEnv) error {
		return func(ctx context.Context, t *testing.T, e *advEnv) error {
			_, err := modprobe.ReadModuleFile(filepath.Join(e.dir, "kernel", file), advBombLimit)
			return err
		}
	}
	return []advCase{
		{name: "xz bomb", category: cat, setup: bombTree, act: load("bx"), want: advIs(modprobe.ErrTooLarge)},
		{name: "zstd bomb", category: cat, setup: bombTree, act: load("bz"), want: advIs(modprobe.ErrTooLarge)},
		{name: "gzip bomb", category: cat, setup: bombTree, act: load("bg"), want: advIs(modprobe.ErrTooLarge)},
		{
			// The bomb is a dependency: the probe stops there, and the
			// module needing it is not inserted.
			name: "xz bomb as a dependency", category: cat, setup: bombTree, act: load("user"),
			want: advIs(modprobe.ErrTooLarge), inserted: []string{"a"},
		},
		{name: "ReadModuleFile of an xz bomb", category: cat, setup: bombTree, act: read("bx.ko.xz"), want: advIs(modprobe.ErrTooLarge)},
		{name: "ReadModuleFile of a zstd bomb", category: cat, setup: bombTree, act: read("bz.ko.zst"), want: advIs(modprobe.ErrTooLarge)},
		{
			// A 2 GiB window is over libzstd's default limit (128 MiB):
			// refused before any window is allocated.
			name: "zstd frame with a 2 GiB window", category: cat, setup: bombTree, act: read("window.ko.zst"),
			want: advText("zstd", "window"),
		},
	}
}

// advELF returns the image of module name with mutate applied to it;
// shdr returns the file offset of the header of the named section.
func advELF(t *testing.T, name string, mutate func(img []byte, shdr func(string) int)) []byte {
	t.Helper()
	m := &testmod.Module{
		Name:     name,
		ModInfo:  testmod.StandardModInfo(name, testmod.DefaultVermagic(advRelease)),
		Exports:  []string{name + "_fn"},
		Versions: []testmod.VersionEntry{{CRC: 1, Name: "module_layout"}},
	}
	img, err := m.ELF()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	shoff := int(binary.LittleEndian.Uint64(img[0x28:]))
	shdr := func(sec string) int {
		for i, s := range f.Sections {
			if s.Name == sec {
				return shoff + 64*i
			}
		}
		t.Fatalf("no section %s", sec)
		return 0
	}
	mutate(img, shdr)
	return img
}

// ELF64 header and section header fields.
const (
	advEShoff     = 0x28
	advEShnum     = 0x3c
	advEShstrndx  = 0x3e
	advShName     = 0
	advShOffset   = 24
	advShSize     = 32
	advELFEntries = 0x3a
)

// advBogusELFs are the corrupted modules, by file name.
var advBogusELFs = []struct {
	file   string
	mutate func(img []byte, shdr func(string) int)
}{
	{"shoff.ko", func(img []byte, _ func(string) int) { binary.LittleEndian.PutUint64(img[advEShoff:], 1<<62) }},
	{"shnum.ko", func(img []byte, _ func(string) int) { binary.LittleEndian.PutUint16(img[advEShnum:], 0xffff) }},
	{"shstrndx.ko", func(img []byte, _ func(string) int) { binary.LittleEndian.PutUint16(img[advEShstrndx:], 0xfffe) }},
	{"shentsize.ko", func(img []byte, _ func(string) int) { binary.LittleEndian.PutUint16(img[advELFEntries:], 8) }},
	{"modinfo-offset.ko", func(img []byte, shdr func(string) int) {
		binary.LittleEndian.PutUint64(img[shdr(".modinfo")+advShOffset:], uint64(len(img))+4096)
	}},
	{"modinfo-wrap.ko", func(img []byte, shdr func(string) int) {
		binary.LittleEndian.PutUint64(img[shdr(".modinfo")+advShOffset:], ^uint64(0)-16)
		binary.LittleEndian.PutUint64(img[shdr(".modinfo")+advShSize:], 64)
	}},
	{"versions-size.ko", func(img []byte, shdr func(string) int) {
		binary.LittleEndian.PutUint64(img[shdr("__versions")+advShSize:], 1<<40)
	}},
	{"symtab-size.ko", func(img []byte, shdr func(string) int) {
		binary.LittleEndian.PutUint64(img[shdr(".symtab")+advShSize:], ^uint64(0))
	}},
	{"shname.ko", func(img []byte, shdr func(string) int) {
		binary.LittleEndian.PutUint32(img[shdr(".modinfo")+advShName:], 0xfffffff0)
	}},
	{"truncated.ko", nil},
}

// advBogusTree writes every bogus ELF of advBogusELFs under kernel/bogus/
// (xz-compressed with compress), each with its modules.dep line.
func advBogusTree(t *testing.T, compress bool) *advEnv {
	e := advTree(t, modprobetest.Module{Name: "a"})
	var dep strings.Builder
	dep.WriteString("kernel/a.ko:\n")
	for _, b := range advBogusELFs {
		name := strings.TrimSuffix(b.file, ".ko")
		var img []byte
		if b.mutate == nil {
			img = advELF(t, name, func([]byte, func(string) int) {})
			img = img[:len(img)/2]
		} else {
			img = advELF(t, name, b.mutate)
		}
		rel := "kernel/bogus/" + b.file
		if compress {
			var err error
			if img, err = testmod.Compress(img, testmod.Xz); err != nil {
				t.Fatal(err)
			}
			rel += ".xz"
		}
		e.writeFile(t, rel, string(img))
		fmt.Fprintf(&dep, "%s:\n", rel)
		e.vals[b.file] = rel
	}
	e.writeFile(t, "modules.dep", dep.String())
	return e
}

func advELFCases() []advCase {
	const cat = "elf"
	var cases []advCase
	for _, b := range advBogusELFs {
		name := strings.TrimSuffix(b.file, ".ko")
		cases = append(cases, advCase{
			// The fake kernel parses the image as Linux does and refuses
			// it; elfmod's readers return errors, and the image read back
			// by ReadModuleFile is the file.
			name: "bogus " + name, category: cat,
			setup: func(t *testing.T, n int) *advEnv { return advBogusTree(t, false) },
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				img, err := modprobe.ReadModuleFile(filepath.Join(e.dir, e.vals[b.file]), 0)
				if err != nil {
					return fmt.Errorf("ReadModuleFile: %w", err)
				}
				if m, err := elfmod.Parse(img); err == nil {
					_, err1 := m.Modinfo()
					_, err2 := m.Exports()
					_, err3 := m.Undefined()
					_, err4 := m.Versions()
					_, err5 := m.ThisModuleName()
					if err1 == nil && err2 == nil && err3 == nil && err4 == nil && err5 == nil {
						return fmt.Errorf("elfmod accepted the bogus image")
					}
				}
				return e.load(ctx, t, name)
			},
			want: advIs(syscall.ENOEXEC),
			post: func(t *testing.T, e *advEnv) {
				if n := len(e.k.Inserts()); n > 1 {
					t.Errorf("%d inserts", n)
				}
			},
		})
	}
	return append(cases,
		advCase{
			// Forced loads of compressed images go through init_module,
			// after gokmod edits its copy of the image (strip vermagic and
			// __versions): a bogus image must be reported (the edit
			// skipped), the fake kernel must refuse each (ENOEXEC), and
			// the files on disk stay as they were.
			name: "forced load of bogus compressed images", category: cat,
			setup: func(t *testing.T, n int) *advEnv { return advBogusTree(t, true) },
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				l, err := e.loader(t)
				if err != nil {
					return err
				}
				var errs []error
				for _, b := range advBogusELFs {
					err := l.LoadWith(ctx, strings.TrimSuffix(b.file, ".ko"), nil, modprobe.LoadOptions{ForceVermagic: true, ForceModversion: true})
					if !errors.Is(err, syscall.ENOEXEC) {
						errs = append(errs, fmt.Errorf("%s: %v, want ENOEXEC", b.file, err))
					}
				}
				return errors.Join(errs...)
			},
			want: advNoError(),
		},
		advCase{
			// depmod reads every bogus file, logs what it cannot read and
			// indexes the rest.
			name: "depmod over bogus ELF files", category: cat,
			setup: func(t *testing.T, n int) *advEnv { return advBogusTree(t, false) },
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				return depmod.Run(ctx, depmod.Options{BaseDir: e.root, Release: advRelease, ConfigPaths: []string{},
					Log: func(_ depmod.Level, msg string) { e.log.add(msg) }})
			},
			want:   advNoError(),
			writes: []string{"lib/modules/" + advRelease + "/modules."},
			post: func(t *testing.T, e *advEnv) {
				dep, err := os.ReadFile(filepath.Join(e.dir, "modules.dep"))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(dep), "kernel/a.ko:") {
					t.Errorf("modules.dep lacks a:\n%s", dep)
				}
				advLogHas("failed to load symbols from "+e.dir+"/kernel/bogus/shoff.ko: Exec format error")(t, e)
			},
		},
	)
}

func advImageCases() []advCase {
	const cat = "image"
	const kver = "6.1.0-adv"
	const kdir = "opt/lib/modules/" + kver
	type entry = registrytest.Entry
	base := func(t *testing.T) []entry {
		return []entry{
			{Name: "opt/", Type: tar.TypeDir}, {Name: "opt/lib/", Type: tar.TypeDir}, {Name: "opt/lib/modules/", Type: tar.TypeDir},
			{Name: kdir + "/", Type: tar.TypeDir},
			{Name: kdir + "/good.ko", Data: advModuleImage(t, "good")},
		}
	}
	extract := func(more func(e *advEnv) []entry, index bool) func(ctx context.Context, t *testing.T, e *advEnv) error {
		return func(ctx context.Context, t *testing.T, e *advEnv) error {
			img := registrytest.Image(t, append(base(t), more(e)...))
			return kmodimage.Extract(ctx, img, filepath.Join(e.root, "dst"), kmodimage.ExtractOptions{KernelVersion: kver, Index: index})
		}
	}
	setup := func(t *testing.T, n int) *advEnv { e := advTree(t); e.k = nil; return e }
	unsafe := func(name string, more func(e *advEnv) []entry) advCase {
		return advCase{name: name, category: cat, setup: setup, act: extract(more, false), want: advIs(kmodimage.ErrUnsafeEntry)}
	}
	return []advCase{
		unsafe("traversal", func(e *advEnv) []entry {
			return []entry{{Name: kdir + "/../../../../../outside/evil", Data: []byte("x")}}
		}),
		unsafe("absolute name", func(e *advEnv) []entry { return []entry{{Name: e.outside + "/evil", Data: []byte("x")}} }),
		unsafe("symlink escape", func(e *advEnv) []entry {
			return []entry{{Name: kdir + "/out", Type: tar.TypeSymlink, Linkname: e.outside}, {Name: kdir + "/out/evil", Data: []byte("x")}}
		}),
		unsafe("device node", func(e *advEnv) []entry {
			return []entry{{Name: kdir + "/mem", Type: tar.TypeChar, Devmajor: 1, Devminor: 1}}
		}),
		{
			name: "header claiming 8 GiB", category: cat, setup: setup,
			act: extract(func(e *advEnv) []entry {
				return []entry{{Name: kdir + "/huge.ko", Data: []byte("\x7fELF"), Size: 8 << 30}}
			}, false),
			want: advIs(kmodimage.ErrTooLarge),
		},
		{
			// Relative links inside the kernel directory are allowed, and
			// "." makes a loop; indexing the image must not walk it
			// exponentially (two loops: 2^40 directories).
			name: "symlink loops, indexed", category: cat, setup: setup, timeout: 2 * time.Second,
			act: extract(func(e *advEnv) []entry {
				return []entry{
					{Name: kdir + "/l1", Type: tar.TypeSymlink, Linkname: "."},
					{Name: kdir + "/l2", Type: tar.TypeSymlink, Linkname: "."},
				}
			}, true),
			want:   advNilOr(kmodimage.ErrUnsafeEntry, kmodimage.ErrLayout),
			writes: []string{"dst"},
		},
	}
}

func advAdapterCases() []advCase {
	const cat = "adapter"
	// The acts parse e.input, which setup builds with these.
	fixed := func(v ...string) func(t *testing.T, n int) *advEnv {
		return withInput(func(int) []string { return v })
	}
	sized := func(mk func(n int) string) func(t *testing.T, n int) *advEnv {
		return withInput(func(n int) []string { return []string{mk(n)} })
	}
	annotation := func(ctx context.Context, t *testing.T, e *advEnv) error {
		_, err := kata.ParseAnnotation(e.input[0])
		return err
	}
	tomlConfig := func(ctx context.Context, t *testing.T, e *advEnv) error {
		_, err := kata.ParseConfig([]byte(e.input[0]), "configuration.toml")
		return err
	}
	env := func(ctx context.Context, t *testing.T, e *advEnv) error {
		_, err := isula.ParseEnv(e.input)
		return err
	}
	var envErr *isula.EnvError
	var parseErr *kata.ParseError
	isEnvErr := func(err error) string {
		if !errors.As(err, &envErr) {
			return fmt.Sprintf("want an *isula.EnvError, got %v", err)
		}
		return ""
	}
	isParseErr := func(err error) string {
		if !errors.As(err, &parseErr) {
			return fmt.Sprintf("want a *kata.ParseError, got %v", err)
		}
		return ""
	}
	toml := func(elems string) string { return "[agent.kata]\nkernel_modules = [" + elems + "]\n" }
	return []advCase{
		{name: `kata annotation "-r"`, category: cat, setup: fixed("ip_vs;-r;ip_vs_wrr"), act: annotation, want: advAll(advIs(modprobe.ErrBadName), isParseErr)},
		{name: `kata annotation "-d DIR"`, category: cat, setup: fixed("ip_vs -d /tmp/evil"), act: annotation, want: advIs(modprobe.ErrBadParams)},
		{name: "kata annotation with an unbalanced quote", category: cat, setup: fixed(`ip_vs p="a b;ip_vs_wrr`), act: annotation, want: advIs(kata.ErrUnbalancedQuote)},
		{name: "kata annotation with a path", category: cat, setup: fixed("../../outside/evil"), act: annotation, want: advIs(modprobe.ErrBadName)},
		{name: "kata annotation with a NUL byte", category: cat, setup: fixed("ip_vs\x00evil"), act: annotation, want: advIs(modprobe.ErrBadName)},
		{
			name: "kata annotation, 10 MB unbalanced element", category: cat, size: advBig, text: true,
			setup: sized(func(n int) string { return `ip_vs p="` + strings.Repeat("x", n) }),
			act:   annotation, want: advIs(kata.ErrUnbalancedQuote),
		},
		{
			// 5 million one-letter elements: accepted, or refused by a
			// limit, the memory must stay proportional to the 10 MB value.
			name: "kata annotation, 10 MB of elements", category: cat, size: advBig, text: true, pilot: true,
			setup: sized(func(n int) string { return strings.Repeat("a;", n/2) }),
			act:   annotation, want: advEither(),
		},
		{name: `kata configuration.toml "-r"`, category: cat, setup: fixed(toml(`"-r ip_vs"`)), act: tomlConfig, want: advAll(advIs(modprobe.ErrBadName), isParseErr)},
		{name: "kata configuration.toml unbalanced quote", category: cat, setup: fixed(toml(`"ip_vs p=\"x"`)), act: tomlConfig, want: advIs(kata.ErrUnbalancedQuote)},
		{
			name: "kata configuration.toml, 10 MB array", category: cat, size: advBig, text: true, pilot: true,
			setup: sized(func(n int) string { return toml(strings.Repeat(`"a",`, n/4)) }),
			act:   tomlConfig, want: advEither(),
		},
		{name: `isula "-r,ip_vs"`, category: cat, setup: fixed("PATH=/bin", "KERNEL_MODULES=-r,ip_vs"), act: env, want: advAll(advIs(modprobe.ErrBadName), isEnvErr)},
		{name: "isula NUL byte and path", category: cat, setup: fixed("KERNEL_MODULES=ip_vs,a\x00b,../x"), act: env, want: advAll(advIs(modprobe.ErrBadName), isEnvErr)},
		{name: `isula "-d DIR"`, category: cat, setup: fixed("KERNEL_MODULES=ip_vs,-d,/tmp"), act: env, want: advIs(modprobe.ErrBadName)},
		{
			name: "isula, 10 MB bad value", category: cat, size: advBig, text: true,
			setup: sized(func(n int) string { return "KERNEL_MODULES=" + strings.Repeat("x", n) + ",-r" }),
			act:   env, want: advIs(modprobe.ErrBadName),
		},
		{
			name: "isula, 10 MB of names", category: cat, size: advBig, text: true, pilot: true,
			setup: sized(func(n int) string { return "KERNEL_MODULES=" + strings.Repeat("a,", n/2) }),
			act:   env, want: advEither(),
		},
		{
			// The Loader behind the adapters refuses the same requests
			// when a caller builds them without parsing.
			name: "kata.Load of raw hostile requests", category: cat,
			setup: func(t *testing.T, n int) *advEnv { return advPlain(t) },
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				l, err := e.loader(t)
				if err != nil {
					return err
				}
				return kata.Load(ctx, l, []modprobe.Request{{Name: "-r"}, {Name: "a"}}, modprobe.LoadOptions{})
			},
			want: advIs(modprobe.ErrBadName),
		},
		{
			name: "isula.Load of raw hostile requests", category: cat,
			setup: func(t *testing.T, n int) *advEnv { return advPlain(t) },
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				l, err := e.loader(t)
				if err != nil {
					return err
				}
				// modprobe -a semantics: every name is tried.
				return isula.Load(ctx, l, []modprobe.Request{{Name: "--remove"}, {Name: "-d/tmp"}, {Name: "a"}}, modprobe.LoadOptions{})
			},
			want: advIs(modprobe.ErrBadName), inserted: []string{"a"},
		},
		{
			name: "isula.Load of a request with parameters", category: cat,
			setup: func(t *testing.T, n int) *advEnv { return advPlain(t) },
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				l, err := e.loader(t)
				if err != nil {
					return err
				}
				return isula.Load(ctx, l, []modprobe.Request{{Name: "a"}, {Name: "b", Params: []string{"x=1\nevil=1"}}}, modprobe.LoadOptions{})
			},
			want: advIs(modprobe.ErrBadParams),
		},
	}
}

func advDepmodCases() []advCase {
	const cat = "depmod"
	run := func(ctx context.Context, t *testing.T, e *advEnv) error {
		return depmod.Run(ctx, depmod.Options{BaseDir: e.root, Release: advRelease, ConfigPaths: []string{},
			Log: func(_ depmod.Level, msg string) { e.log.add(msg) }})
	}
	writes := []string{"lib/modules/" + advRelease + "/modules."}
	tree := func(t *testing.T) *advEnv {
		e := advTree(t, modprobetest.Module{Name: "a"}, modprobetest.Module{Name: "b"})
		e.k = nil
		return e
	}
	indexed := func(names ...string) func(t *testing.T, e *advEnv) {
		return func(t *testing.T, e *advEnv) {
			dep, err := os.ReadFile(filepath.Join(e.dir, "modules.dep"))
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				if !strings.Contains(string(dep), "/"+n+".ko:") {
					t.Errorf("modules.dep lacks %s:\n%s", n, advShort(string(dep)))
				}
			}
		}
	}
	return []advCase{
		{
			// A link to the parent directory: the walk follows it until
			// the kernel says ELOOP (40 links), as kmod's follows it until
			// PATH_MAX, and ends.
			name: "symlink to the parent directory", category: cat,
			setup: func(t *testing.T, n int) *advEnv {
				e := tree(t)
				if err := os.Symlink("..", filepath.Join(e.dir, "kernel/up")); err != nil {
					t.Fatal(err)
				}
				return e
			},
			act: run, want: advNoError(), writes: writes, post: indexed("a", "b"),
		},
		{
			name: "self symlink", category: cat,
			setup: func(t *testing.T, n int) *advEnv {
				e := tree(t)
				if err := os.Symlink("self", filepath.Join(e.dir, "kernel/self")); err != nil {
					t.Fatal(err)
				}
				return e
			},
			act: run, want: advNoError(), writes: writes,
			post: func(t *testing.T, e *advEnv) {
				indexed("a", "b")(t, e)
				advLogHas("self): Too many levels of symbolic links")(t, e)
			},
		},
		{
			// Two links to "." make the walk binary: 2^40 directories
			// before ELOOP, unless directories already seen are skipped.
			name: "two symlinks to the directory itself", category: cat, timeout: 2 * time.Second,
			setup: func(t *testing.T, n int) *advEnv {
				e := tree(t)
				for _, l := range []string{"l1", "l2"} {
					if err := os.Symlink(".", filepath.Join(e.dir, "kernel", l)); err != nil {
						t.Fatal(err)
					}
				}
				return e
			},
			act: run, want: advNoError(), writes: writes, post: indexed("a", "b"),
		},
		{
			name: "FIFOs named like modules", category: cat, timeout: time.Second,
			setup: func(t *testing.T, n int) *advEnv {
				e := tree(t)
				e.fifo(t, filepath.Join(e.dir, "kernel/fifo.ko"))
				e.fifo(t, filepath.Join(e.dir, "kernel/target"))
				if err := os.Symlink("target", filepath.Join(e.dir, "kernel/link.ko")); err != nil {
					t.Fatal(err)
				}
				return e
			},
			act: run, want: advNoError(), writes: writes,
			post: func(t *testing.T, e *advEnv) {
				indexed("a", "b")(t, e)
				advLogHas("unsupported file type "+e.dir+"/kernel/fifo.ko")(t, e)
			},
		},
		{
			// depmod reads modules.order, modules.builtin and
			// modules.builtin.modinfo whole: a FIFO must be refused, not
			// waited on (and a device like /dev/zero must not be read
			// without end).
			name: "modules.order and modules.builtin* are FIFOs", category: cat, timeout: time.Second,
			setup: func(t *testing.T, n int) *advEnv {
				e := tree(t)
				for _, f := range []string{"modules.order", "modules.builtin", "modules.builtin.modinfo"} {
					if err := os.Remove(filepath.Join(e.dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
						t.Fatal(err)
					}
					e.fifo(t, filepath.Join(e.dir, f))
				}
				return e
			},
			act: run, want: advNoError(), writes: writes, post: indexed("a", "b"),
		},
		{
			name: "10 MB modules.order line", category: cat, size: advBig, text: true,
			setup: func(t *testing.T, n int) *advEnv {
				e := tree(t)
				e.writeFile(t, "modules.order", "kernel/b.ko\n"+strings.Repeat("k", n)+"\nkernel/a.ko\n")
				return e
			},
			act: run, want: advNoError(), writes: writes, post: indexed("a", "b"),
		},
	}
}
