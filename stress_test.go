package modprobe_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/modprobetest"
)

// Under load: 64 goroutines share one Loader and issue 10,000 overlapping
// loads and removals on the fake kernel. No call may deadlock, no module
// may be inserted while it is live, every error must be one that the
// races between loads and removals explain, and the kernel's state must
// be consistent at the end.

const (
	stressRelease    = "6.1.0-stress"
	stressGoroutines = 64
	stressOps        = 10000
	stressDeadline   = 2 * time.Minute
	stressSeed       = 20251124
)

// stressTree returns 30 modules with shared dependencies: three bases
// b0-b2; nine mids m0-m8 on one or two bases; twelve tops t0-t11 on one
// or two mids (aliases stress-top-N); six independent s0-s5 (aliases
// stress-svc-N), with softdeps between some of them.
func stressTree() (mods []modprobetest.Module, deps map[string][]string) {
	deps = map[string][]string{}
	add := func(name string, aliases []string, d ...string) {
		mods = append(mods, modprobetest.Module{Name: name, Depends: d, Aliases: aliases})
		deps[name] = d
	}
	for i := range 3 {
		add(fmt.Sprintf("b%d", i), nil)
	}
	for i := range 9 {
		d := []string{fmt.Sprintf("b%d", i%3)}
		if i%2 == 0 {
			d = append(d, fmt.Sprintf("b%d", (i+1)%3))
		}
		add(fmt.Sprintf("m%d", i), nil, d...)
	}
	for i := range 12 {
		d := []string{fmt.Sprintf("m%d", i%9)}
		if i%3 == 0 {
			d = append(d, fmt.Sprintf("m%d", (i+4)%9))
		}
		add(fmt.Sprintf("t%d", i), []string{fmt.Sprintf("stress-top-%d", i)}, d...)
	}
	for i := range 6 {
		add(fmt.Sprintf("s%d", i), []string{fmt.Sprintf("stress-svc-%d", i)})
	}
	return mods, deps
}

const stressConf = `softdep s0 pre: s1 post: s2
softdep t0 pre: stress-svc-3
softdep t5 post: s4
`

// stressErrors counts errors by kind, and keeps the unexpected ones.
type stressErrors struct {
	mu         sync.Mutex
	kinds      map[string]int
	unexpected []string
}

func (s *stressErrors) add(kind string) {
	s.mu.Lock()
	s.kinds[kind]++
	s.mu.Unlock()
}

func (s *stressErrors) bad(op string, err error) {
	s.mu.Lock()
	if len(s.unexpected) < 20 {
		s.unexpected = append(s.unexpected, fmt.Sprintf("%s: %v", op, err))
	}
	s.kinds["unexpected"]++
	s.mu.Unlock()
}

// classify checks every error in err's tree against what racing loads
// and removals explain:
//   - insert ENOENT: a dependency was removed between its insert and its
//     dependent's (the kernel's "Unknown symbol");
//   - ErrInUse: a module gained a holder or user before its removal;
//   - delete ENOENT: the module was removed by someone else between the
//     check and delete_module;
//   - ErrAlreadyLoaded / ErrNotLoaded: first-time operations.
func (s *stressErrors) classify(op string, err error, firstTime bool) {
	for _, leaf := range modprobetest.Errors(err) {
		var me *modprobe.ModuleError
		if !errors.As(leaf, &me) {
			s.bad(op, leaf)
			continue
		}
		switch {
		case me.Op == "insert" && errors.Is(me, modprobe.ErrAlreadyLoaded) && firstTime:
			s.add("insert: already loaded (first time)")
		case me.Op == "insert" && errors.Is(me, syscall.ENOENT) && !errors.Is(me, modprobe.ErrNotFound):
			s.add("insert: ENOENT (dependency removed meanwhile)")
		case (me.Op == "remove" || me.Op == "delete") && errors.Is(me, modprobe.ErrInUse):
			s.add(string(me.Op) + ": in use")
		case me.Op == "remove" && errors.Is(me, modprobe.ErrNotLoaded) && firstTime:
			s.add("remove: not loaded (first time)")
		case me.Op == "delete" && errors.Is(me, syscall.ENOENT):
			s.add("delete: ENOENT (removed meanwhile)")
		default:
			s.bad(op, leaf)
		}
	}
}

func TestStressLoadRemove(t *testing.T) {
	root := t.TempDir()
	mods, deps := stressTree()
	if _, err := modprobetest.WriteTree(root, stressRelease, mods...); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(root, "conf")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "stress.conf"), []byte(stressConf), 0o644); err != nil {
		t.Fatal(err)
	}
	k := modprobetest.NewKernel(t)
	l := k.Open(t, modprobe.Options{RootDir: root, KernelRelease: stressRelease, ConfigPaths: []string{conf}})

	var names, loadNames []string
	for _, m := range mods {
		names = append(names, m.Name)
		loadNames = append(loadNames, m.Name)
		loadNames = append(loadNames, m.Aliases...)
	}

	// A module is never given to the kernel while it is live. OnInsert
	// runs under the fake's lock, where sysfs is what the kernel holds.
	var doubles atomic.Int32
	var doubleNames sync.Map
	k.OnInsert(func(in modprobetest.Insert) error {
		if _, err := os.Stat(filepath.Join(k.SysfsDir(), "module", in.Module, "initstate")); err == nil {
			doubles.Add(1)
			doubleNames.Store(in.Module, true)
		}
		return nil
	})

	seed := uint64(stressSeed)
	if s := os.Getenv("GOKMOD_STRESS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("GOKMOD_STRESS_SEED: %v", err)
		}
		seed = n
	}
	t.Logf("seed %d (set GOKMOD_STRESS_SEED to change it)", seed)

	ctx := context.Background()
	stressLoadOnly(t, k, l, loadNames)

	errs := &stressErrors{kinds: map[string]int{}}
	var opCounts [6]atomic.Int32
	opNames := [6]string{"Load", "LoadAllWith", "Load first-time", "Remove", "Remove first-time", "Remove holders"}
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := range stressGoroutines {
		n := stressOps / stressGoroutines
		if g < stressOps%stressGoroutines {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			pick := func(from []string) string { return from[rng.IntN(len(from))] }
			for range n {
				r := rng.IntN(100)
				switch {
				case r < 35:
					opCounts[0].Add(1)
					name := pick(loadNames)
					errs.classify("Load "+name, l.Load(ctx, name), false)
				case r < 50:
					opCounts[1].Add(1)
					set := []string{pick(loadNames), pick(loadNames), pick(loadNames)}
					jobs := 1 + rng.IntN(2)
					err := l.LoadAllWith(ctx, set, modprobe.LoadOptions{Jobs: jobs})
					errs.classify(fmt.Sprintf("LoadAllWith %v jobs %d", set, jobs), err, false)
				case r < 55:
					opCounts[2].Add(1)
					name := pick(loadNames)
					errs.classify("Load first-time "+name, l.LoadWith(ctx, name, nil, modprobe.LoadOptions{FirstTime: true}), true)
				case r < 88:
					opCounts[3].Add(1)
					name := pick(names)
					errs.classify("Remove "+name, l.Remove(ctx, name), false)
				case r < 93:
					opCounts[4].Add(1)
					name := pick(names)
					errs.classify("Remove first-time "+name, l.RemoveWith(ctx, []string{name}, modprobe.RemoveOptions{FirstTime: true}), true)
				default:
					opCounts[5].Add(1)
					name := pick(names)
					errs.classify("Remove holders "+name, l.RemoveWith(ctx, []string{name}, modprobe.RemoveOptions{RemoveHolders: true}), false)
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(stressDeadline):
		var b strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
		t.Fatalf("the operations did not finish in %v (deadlock?); goroutines:\n%s", stressDeadline, b.String())
	}
	elapsed := time.Since(start)

	var counts []string
	total := 0
	for i, name := range opNames {
		n := int(opCounts[i].Load())
		total += n
		counts = append(counts, fmt.Sprintf("%s %d", name, n))
	}
	ins, rms := k.Inserts(), k.Removes()
	t.Logf("%d operations by %d goroutines in %v: %s; %d inserts, %d delete_module calls", total, stressGoroutines, elapsed.Round(time.Millisecond), strings.Join(counts, ", "), len(ins), len(rms))
	var kinds []string
	for kind, n := range errs.kinds {
		kinds = append(kinds, fmt.Sprintf("%s: %d", kind, n))
	}
	sort.Strings(kinds)
	t.Logf("errors: %s", strings.Join(kinds, "; "))
	if total != stressOps {
		t.Errorf("%d operations, want %d", total, stressOps)
	}
	for _, u := range errs.unexpected {
		t.Errorf("unexpected error: %s", u)
	}

	// No double insert: never given to the kernel while live, and so
	// never answered EEXIST.
	if n := doubles.Load(); n > 0 {
		var dn []string
		doubleNames.Range(func(k, _ any) bool { dn = append(dn, k.(string)); return true })
		sort.Strings(dn)
		t.Errorf("%d inserts of a live module (%v)", n, dn)
	}
	for _, in := range ins {
		if errors.Is(in.Err, syscall.EEXIST) {
			t.Errorf("insert of %s answered EEXIST", in.Module)
		}
	}

	stressCheckState(t, k, l, deps, names)

	// Removing everything, tops first, leaves the kernel empty.
	order := slices.Clone(names)
	rank := func(n string) int { return strings.Index("tsmb", n[:1]) }
	slices.SortStableFunc(order, func(a, b string) int { return rank(a) - rank(b) })
	for _, name := range order {
		if err := l.Remove(ctx, name); err != nil {
			t.Errorf("final Remove(%s): %v", name, err)
		}
	}
	if live := k.Loaded(); len(live) != 0 {
		t.Errorf("modules left after removing everything: %v", live)
	}
	if mods, err := l.Loaded(); err != nil || len(mods) != 0 {
		t.Errorf("Loaded() after removing everything: %v, %v", mods, err)
	}
}

// stressLoadOnly loads every name from an empty kernel, 64 goroutines
// at a time, sequentially and in parallel: without removals no error is
// explained by a race, so there must be none, and each module must go to
// the kernel once, after its dependencies. The kernel is emptied again
// at the end.
func stressLoadOnly(t *testing.T, k *modprobetest.Kernel, l *modprobe.Loader, loadNames []string) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, stressGoroutines)
	for g := range stressGoroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(stressSeed, uint64(1000+g)))
			var set []string
			for range 6 {
				set = append(set, loadNames[rng.IntN(len(loadNames))])
			}
			jobs := []int{1, 2, 4}[g%3]
			if g%4 == 0 {
				errs[g] = l.Load(ctx, set[0])
				return
			}
			errs[g] = l.LoadAllWith(ctx, set, modprobe.LoadOptions{Jobs: jobs})
		})
	}
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Errorf("load-only goroutine %d: %v", g, err)
		}
	}
	seen := map[string]int{}
	for _, in := range k.Inserts() {
		seen[in.Module]++
		if in.Err != nil {
			t.Errorf("load-only: insert of %s failed: %v", in.Module, in.Err)
		}
	}
	for m, n := range seen {
		if n != 1 {
			t.Errorf("load-only: %s given to the kernel %d times", m, n)
		}
	}
	t.Logf("load-only: %d goroutines loaded %d modules, each once", stressGoroutines, len(seen))
	for range 4 {
		for _, m := range k.Loaded() {
			_ = l.RemoveModule(ctx, m, modprobe.RemoveOptions{})
		}
	}
	if live := k.Loaded(); len(live) != 0 {
		t.Fatalf("load-only: could not empty the kernel: %v", live)
	}
}

// stressCheckState checks the kernel's state against the tree: every
// live module's dependencies are live; its holders are exactly the live
// modules that depend on it, and its refcnt counts them; /proc/modules
// and State agree.
func stressCheckState(t *testing.T, k *modprobetest.Kernel, l *modprobe.Loader, deps map[string][]string, names []string) {
	t.Helper()
	live := map[string]bool{}
	for _, m := range k.Loaded() {
		live[m] = true
	}
	t.Logf("%d modules live at the end", len(live))
	for m := range live {
		for _, d := range deps[m] {
			if !live[d] {
				t.Errorf("%s is live without its dependency %s", m, d)
			}
		}
	}
	for _, m := range names {
		st, err := l.State(m)
		if err != nil {
			t.Errorf("State(%s): %v", m, err)
			continue
		}
		if (st.State == modprobe.StateLive) != live[m] {
			t.Errorf("State(%s) = %v, kernel has it live: %v", m, st.State, live[m])
		}
		if !live[m] {
			continue
		}
		var want []string
		for h := range live {
			if slices.Contains(deps[h], m) {
				want = append(want, h)
			}
		}
		sort.Strings(want)
		got := slices.Clone(st.Holders)
		sort.Strings(got)
		if !slices.Equal(got, want) || st.Refcnt != len(want) {
			t.Errorf("%s: holders %v, refcnt %d; want holders %v, refcnt %d", m, got, st.Refcnt, want, len(want))
		}
	}
	lm, err := l.Loaded()
	if err != nil {
		t.Fatal(err)
	}
	var proc []string
	for _, m := range lm {
		proc = append(proc, m.Name)
	}
	sort.Strings(proc)
	kl := k.Loaded()
	sort.Strings(kl)
	if !slices.Equal(proc, kl) {
		t.Errorf("/proc/modules lists %v, the kernel has %v", proc, kl)
	}
}
