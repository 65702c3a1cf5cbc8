//go:build vmguest

package guest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/kernel"
	"github.com/gokmod/modprobe/modprobetest"
)

// TestStressLoadRemove is the host's stress test (stress_test.go at the
// repository root) at a smaller scale in the real kernel: 8 goroutines
// share one Loader and issue 50 overlapping loads and removals each over
// the ip_vs schedulers (which share ip_vs, nf_conntrack and the rest of
// its chain), dummy and NLS modules, from a seeded random generator
// (GOKMOD_STRESS_SEED overrides the seed). Only the errors that races between
// loads and removals explain may occur, and the kernel's state must be
// consistent at the end; the Loader then removes everything.
func TestStressLoadRemove(t *testing.T) {
	freshKernel(t)
	const (
		goroutines = 8
		opsEach    = 50
		deadline   = 2 * time.Minute
	)
	names := []string{"ip_vs", "ip_vs_wrr", "ip_vs_rr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_sh", "ip_vs_dh", "ip_vs_sed", "ip_vs_nq", "dummy"}
	nls, err := filepath.Glob(moduleDir(t) + "/kernel/fs/nls/nls_*.ko*")
	if err != nil || len(nls) < 6 {
		t.Fatalf("%d NLS modules in the image (%v), want at least 6", len(nls), err)
	}
	sort.Strings(nls)
	for _, p := range nls[:6] {
		names = append(names, baseName(p))
	}

	k := &countingKernel{}
	l, err := modprobe.Open(modprobe.Options{Kernel: k, Compat: compat(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ctx := context.Background()

	var mu sync.Mutex
	kinds := map[string]int{}
	var unexpected []string
	classify := func(op string, err error) {
		mu.Lock()
		defer mu.Unlock()
		for _, leaf := range modprobetest.Errors(err) {
			var me *modprobe.ModuleError
			kind := ""
			switch {
			case !errors.As(leaf, &me):
			case me.Op == "insert" && errors.Is(me, syscall.ENOENT) && !errors.Is(me, modprobe.ErrNotFound):
				kind = "insert: ENOENT (a dependency went away meanwhile)"
			case me.Op == "insert" && errors.Is(me, syscall.EBUSY):
				// Since "module: Don't wait for GOING modules" (Linux 6.2,
				// in 6.1.y too) the kernel refuses a module whose namesake
				// is being removed; kmod reports it as is.
				kind = "insert: EBUSY (the module was going away)"
			case (me.Op == "remove" || me.Op == "delete") && errors.Is(me, modprobe.ErrInUse):
				kind = string(me.Op) + ": in use"
			case me.Op == "delete" && errors.Is(me, syscall.ENOENT):
				kind = "delete: ENOENT (removed meanwhile)"
			}
			if kind == "" {
				unexpected = append(unexpected, fmt.Sprintf("%s: %v", op, leaf))
				continue
			}
			kinds[kind]++
		}
	}

	seed := uint64(20251124)
	if s := os.Getenv("GOKMOD_STRESS_SEED"); s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d", seed)
	var ops [4]atomic.Int32
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			pick := func() string { return names[rng.IntN(len(names))] }
			for range opsEach {
				switch r := rng.IntN(100); {
				case r < 40:
					ops[0].Add(1)
					name := pick()
					classify("Load "+name, l.Load(ctx, name))
				case r < 55:
					ops[1].Add(1)
					set := []string{pick(), pick()}
					classify(fmt.Sprintf("LoadAllWith %v", set), l.LoadAllWith(ctx, set, modprobe.LoadOptions{Jobs: 1 + g%2}))
				case r < 90:
					ops[2].Add(1)
					name := pick()
					classify("Remove "+name, l.Remove(ctx, name))
				default:
					ops[3].Add(1)
					name := pick()
					classify("Remove holders "+name, l.RemoveWith(ctx, []string{name}, modprobe.RemoveOptions{RemoveHolders: true}))
				}
			}
		})
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(deadline):
		var b strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
		t.Fatalf("the operations did not finish in %v (deadlock?); goroutines:\n%s", deadline, b.String())
	}
	t.Logf("%d operations by %d goroutines in %v: Load %d, LoadAllWith %d, Remove %d, Remove holders %d; %d inserts (%d answered EEXIST), %d delete_module calls",
		goroutines*opsEach, goroutines, time.Since(start).Round(time.Millisecond), ops[0].Load(), ops[1].Load(), ops[2].Load(), ops[3].Load(),
		k.inserts.Load(), k.exist.Load(), k.deletes.Load())
	var ks []string
	for kind, n := range kinds {
		ks = append(ks, fmt.Sprintf("%s: %d", kind, n))
	}
	sort.Strings(ks)
	t.Logf("errors: %s", strings.Join(ks, "; "))
	for _, u := range unexpected {
		t.Errorf("unexpected error: %s", u)
	}

	checkGuestState(t, l, names)

	// The Loader removes everything, unused modules first (a refcnt
	// without holders: libcrc32c's crypto transform pins crc32c).
	for pass := 0; pass < 10; pass++ {
		mods := liveModules(t)
		if len(mods) == 0 {
			break
		}
		for _, m := range mods {
			st, err := l.State(m)
			if err != nil {
				t.Errorf("State(%s): %v", m, err)
				continue
			}
			if st.State != modprobe.StateLive || st.Refcnt != 0 {
				continue
			}
			if err := l.Remove(ctx, m); err != nil {
				t.Errorf("final Remove(%s): %v", m, err)
			}
		}
	}
	if mods := liveModules(t); len(mods) != 0 {
		t.Errorf("modules left after removing everything: %v", mods)
	}
}

// checkGuestState checks lsmod's view once the operations are over: every
// module is live; its holders are live modules and its refcnt counts at
// least them; every live module of names has its modules.dep
// dependencies live.
func checkGuestState(t *testing.T, l *modprobe.Loader, names []string) {
	t.Helper()
	lm, err := l.Loaded()
	if err != nil {
		t.Fatal(err)
	}
	liveSet := map[string]bool{}
	for _, m := range lm {
		liveSet[m.Name] = true
	}
	var all []string
	for _, m := range lm {
		all = append(all, m.Name)
		if !live(t, m.Name) {
			t.Errorf("%s is in /proc/modules but not live", m.Name)
		}
		for _, h := range m.Holders {
			if !liveSet[h] {
				t.Errorf("%s is held by %s, which is not loaded", m.Name, h)
			}
		}
		if m.Refcnt < len(m.Holders) {
			t.Errorf("%s: refcnt %d below its %d holders %v", m.Name, m.Refcnt, len(m.Holders), m.Holders)
		}
	}
	sort.Strings(all)
	t.Logf("%d modules live at the end: %v", len(all), all)
	for _, name := range names {
		if !liveSet[name] {
			continue
		}
		plan, err := l.Plan(context.Background(), name, nil, modprobe.PlanOptions{IgnoreLoaded: true})
		if err != nil {
			t.Errorf("Plan(%s): %v", name, err)
			continue
		}
		for _, pr := range plan.Probes {
			for _, a := range pr.Actions {
				if a.Required && !a.Requested && !liveSet[a.Module] {
					t.Errorf("%s is live without its dependency %s", name, a.Module)
				}
			}
		}
	}
}

// countingKernel is the running kernel, counting the calls.
type countingKernel struct {
	inserts, exist, deletes atomic.Int32
}

func (k *countingKernel) FinitModule(f *os.File, params string, flags modprobe.InitFlags) error {
	return k.inserted(kernel.FinitModule(f, params, int(flags)))
}

func (k *countingKernel) InitModule(image []byte, params string) error {
	return k.inserted(kernel.InitModule(image, params))
}

func (k *countingKernel) inserted(err error) error {
	k.inserts.Add(1)
	if errors.Is(err, syscall.EEXIST) {
		k.exist.Add(1)
	}
	return err
}

func (k *countingKernel) DeleteModule(name string, flags modprobe.DeleteFlags) error {
	k.deletes.Add(1)
	return kernel.DeleteModule(name, int(flags))
}
