package adversarial_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
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
	"github.com/gokmod/modprobe/internal/fdleak"
	"github.com/gokmod/modprobe/internal/memtest"
	"github.com/gokmod/modprobe/internal/testmod"
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
// advLog, followed by its AttrPath and AttrError as "path=... error=...",
// without the copies a text handler's quoting makes, so that the
// measurements are the library's.
type advHandler struct{ log *advLog }

func (h advHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h advHandler) Handle(_ context.Context, r slog.Record) error {
	var attrs []string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == modprobe.AttrPath || a.Key == modprobe.AttrError {
			attrs = append(attrs, a.Key+"="+a.Value.String())
		}
		return true
	})
	h.log.add(r.Message, attrs...)
	return nil
}
func (h advHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h advHandler) WithGroup(string) slog.Handler      { return h }

// advLog collects the messages of Loaders and depmod.
type advLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *advLog) add(s string, attrs ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, s := range append([]string{s}, attrs...) {
		// Keep the log small: the 10 MB cases log 10 MB lines.
		if len(s) > 512 {
			s = s[:512] + "..."
		}
		if i > 0 {
			l.buf.WriteByte(' ')
		}
		l.buf.WriteString(s)
	}
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

// TestMain fails the tests when they leave a file descriptor open, as the
// root package's tests, where the table began, do.
func TestMain(m *testing.M) { os.Exit(fdleak.Main(m)) }

// TestAdversarialInputs runs the table advCases builds, each case under
// the bounds the package documentation describes.
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
	cases = append(cases, advTOMLDepthCases()...)
	cases = append(cases, advPeakBombCases()...)
	return cases
}
