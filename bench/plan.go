package main

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gokmod/modprobe"
	"github.com/u-root/u-root/pkg/kmodule"
)

//go:embed harness/harness.c
var harnessSource []byte

// passResult is one timed pass over every module name.
type passResult struct {
	dur     time.Duration // wall time
	cpu     time.Duration // CPU time of the whole process (all threads)
	actions int
	errors  int
}

// series is the timed passes of one implementation.
type series struct {
	name   string
	note   string
	names  int // names per pass
	passes []passResult
}

// perModule returns the median and the minimum wall time per module.
func (s *series) perModule() (median, best time.Duration) {
	return s.stat(func(p passResult) time.Duration { return p.dur })
}

// cpuPerModule returns the median and the minimum CPU time per module.
func (s *series) cpuPerModule() (median, best time.Duration) {
	return s.stat(func(p passResult) time.Duration { return p.cpu })
}

func (s *series) stat(f func(passResult) time.Duration) (median, best time.Duration) {
	d := make([]time.Duration, len(s.passes))
	for i, p := range s.passes {
		d[i] = f(p) / time.Duration(s.names)
	}
	slices.Sort(d)
	return medianOf(d), d[0]
}

func medianOf(d []time.Duration) time.Duration {
	n := len(d)
	if n%2 == 1 {
		return d[n/2]
	}
	return (d[n/2-1] + d[n/2]) / 2
}

func partA(c *config, b *binaries, names []string, tmp string) error {
	var all []*series

	fmt.Fprintln(os.Stderr, "bench: a. gokmod and libkmod, interleaved passes")
	g, k, err := gokmodLibkmodPasses(c, b, names, tmp)
	if err != nil {
		return err
	}
	all = append(all, g, k)

	var u, up *series
	if !c.skipUroot {
		fmt.Fprintln(os.Stderr, "bench: a. u-root kmodule.ProbeOptions")
		unames := names
		if c.urootSample > 0 && c.urootSample < len(names) {
			unames = names[:c.urootSample]
		}
		u = urootProbeOptions(c, unames)
		all = append(all, u)
		fmt.Fprintln(os.Stderr, "bench: a. u-root kmodule.Prober")
		up = urootProber(c, unames)
		all = append(all, up)
	}
	fmt.Fprintln(os.Stderr, "bench: a. gokmod, one Loader per module")
	gf, err := gokmodFreshPasses(c, names)
	if err != nil {
		return err
	}
	all = append(all, gf)

	cfg := "none"
	if len(c.configPaths) > 0 {
		cfg = strings.Join(c.configPaths, " + ")
	}
	fmt.Printf("%d module names (every line of modules.dep), dry run ignoring loaded modules; configuration for gokmod and libkmod: %s. "+
		"Each pass plans every name. gokmod and libkmod passes alternate, after one untimed warm-up pass each. "+
		"Wall time is the loop's elapsed time; CPU time is the process's user+system time over the loop (all threads, so Go's GC is included).\n\n", len(names), cfg)
	fmt.Println("| implementation | µs/module wall (median pass) | wall (best pass) | µs/module CPU (median pass) | CPU (best pass) | timed passes | actions/pass | errors/pass | what one pass does |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, s := range all {
		med, best := s.perModule()
		cmed, cbest := s.cpuPerModule()
		last := s.passes[len(s.passes)-1]
		fmt.Printf("| %s | %s | %s | %s | %s | %d | %d | %d | %s |\n", s.name, us(med), us(best), us(cmed), us(cbest), len(s.passes), last.actions, last.errors, s.note)
	}
	fmt.Println()
	gm, gb := g.perModule()
	km, kb := k.perModule()
	gc, _ := g.cpuPerModule()
	kc, _ := k.cpuPerModule()
	fmt.Println("| ratio | value | target | |")
	fmt.Println("|---|---:|---:|---|")
	fmt.Printf("| gokmod / libkmod (wall, median passes) | %.2f | <= 1.0 | %s |\n", ratio(gm, km), verdict(ratio(gm, km) <= 1.0))
	fmt.Printf("| gokmod / libkmod (wall, best passes) | %.2f | <= 1.0 | %s |\n", ratio(gb, kb), verdict(ratio(gb, kb) <= 1.0))
	fmt.Printf("| gokmod / libkmod (CPU, median passes) | %.2f | <= 1.0 | %s |\n", ratio(gc, kc), verdict(ratio(gc, kc) <= 1.0))
	if u != nil {
		um, _ := u.perModule()
		upm, _ := up.perModule()
		fmt.Printf("| u-root ProbeOptions / gokmod (wall) | %.1f | >= 20 | %s |\n", ratio(um, gm), verdict(ratio(um, gm) >= 20))
		fmt.Printf("| u-root Prober, reused / gokmod (wall) | %.1f | (info) | |\n", ratio(upm, gm))
	}
	gfm, _ := gf.perModule()
	fmt.Printf("| gokmod one Loader per module / gokmod one Loader (wall) | %.1f | (info) | |\n", ratio(gfm, gm))
	fmt.Println()
	if c.rowsPath == "" {
		return nil
	}
	check := fmt.Sprintf("%d actions a pass each", k.passes[len(k.passes)-1].actions)
	if ga, ka := g.passes[len(g.passes)-1].actions, k.passes[len(k.passes)-1].actions; ga != ka {
		check = fmt.Sprintf("differ: %d vs %d actions a pass", ga, ka)
	}
	rows := []row{
		pairedRow("plan.libkmod", "wall", "µs/module", g.name, k.name, g.perPass(wallOf), k.perPass(wallOf), false),
		pairedRow("plan.libkmod", "cpu", "µs/module", g.name, k.name, g.perPass(cpuOf), k.perPass(cpuOf), false),
	}
	rows[0].Check, rows[1].Check = check, check
	if u != nil {
		// One pass of u-root (it is slow) against gokmod's median pass.
		rows = append(rows, pairedRow("plan.uroot", "wall", "µs/module", g.name, u.name,
			[]float64{median(g.perPass(wallOf))}, u.perPass(wallOf), true))
	}
	return appendRows(c.rowsPath, rows...)
}

func wallOf(p passResult) time.Duration { return p.dur }
func cpuOf(p passResult) time.Duration  { return p.cpu }

// perPass returns f of every pass per module, in µs.
func (s *series) perPass(f func(passResult) time.Duration) []float64 {
	v := make([]float64, len(s.passes))
	for i, p := range s.passes {
		v[i] = float64(f(p)) / float64(s.names) / float64(time.Microsecond)
	}
	return v
}

// cpuTime returns the CPU time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timed runs f and fills in the wall and CPU time it took.
func timed(f func(r *passResult)) passResult {
	var r passResult
	c0 := cpuTime()
	start := time.Now()
	f(&r)
	r.dur = time.Since(start)
	r.cpu = cpuTime() - c0
	return r
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// us formats a duration in microseconds.
func us(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Microsecond)) }

// gokmodPlanAll plans every name with l and counts the actions a dry run
// shows, as modprobe --show-depends would print them.
func gokmodPlanAll(l *modprobe.Loader, names []string) passResult {
	return timed(func(r *passResult) { gokmodPlan(l, names, r) })
}

func gokmodPlan(l *modprobe.Loader, names []string, r *passResult) {
	opts := modprobe.PlanOptions{IgnoreLoaded: true}
	count := func(modprobe.Action) { r.actions++ }
	for _, n := range names {
		plan, err := l.Plan(context.Background(), n, nil, opts)
		if err != nil {
			r.errors++
			continue
		}
		for i := range plan.Probes {
			if err := plan.Probes[i].DryRun(modprobe.DryRunOptions{}, count); err != nil {
				r.errors++
			}
		}
	}
}

func (c *config) options() modprobe.Options {
	return modprobe.Options{RootDir: c.tree, KernelRelease: c.release, ConfigPaths: c.configPaths}
}

func gokmodFreshPasses(c *config, names []string) (*series, error) {
	one := func(names []string) passResult {
		return timed(func(r *passResult) {
			for _, n := range names {
				l, err := modprobe.Open(c.options())
				if err != nil {
					r.errors++
					continue
				}
				gokmodPlan(l, []string{n}, r)
				l.Close()
			}
		})
	}
	one(names[:min(len(names), 200)]) // warm-up
	s := &series{
		name:  "gokmod (Open + Plan + Close per module)",
		note:  "a fresh Loader per name: config read, indexes mapped, like u-root's ProbeOptions",
		names: len(names),
	}
	s.passes = append(s.passes, one(names))
	return s, nil
}

// gokmodLibkmodPasses times passes of gokmod (one Loader) and of the
// libkmod harness (one kmod_ctx), alternating them so that whatever else
// runs on the machine weighs on both alike.
func gokmodLibkmodPasses(c *config, b *binaries, names []string, tmp string) (g, k *series, err error) {
	l, err := modprobe.Open(c.options())
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()

	list := filepath.Join(tmp, "names.txt")
	if err := os.WriteFile(list, []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(b.harness, append([]string{c.moduleDir, list}, c.configPaths...)...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("libkmod harness: %w", err)
	}
	defer func() {
		in.Close()
		if werr := cmd.Wait(); werr != nil && err == nil {
			err = fmt.Errorf("libkmod harness: %w", werr)
		}
	}()
	out := bufio.NewReader(outPipe)
	libkmodPass := func() (passResult, error) {
		if _, err := io.WriteString(in, "pass\n"); err != nil {
			return passResult{}, fmt.Errorf("libkmod harness: %w", err)
		}
		line, err := out.ReadString('\n')
		if err != nil {
			return passResult{}, fmt.Errorf("libkmod harness: %w", err)
		}
		// pass NANOSECONDS CPUNANOSECONDS NAMES ACTIONS ERRORS
		f := strings.Fields(line)
		if len(f) != 6 || f[0] != "pass" {
			return passResult{}, fmt.Errorf("libkmod harness: unexpected output %q", line)
		}
		var v [5]int64
		for i := range v {
			if v[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
				return passResult{}, fmt.Errorf("libkmod harness: unexpected output %q", line)
			}
		}
		return passResult{dur: time.Duration(v[0]), cpu: time.Duration(v[1]), actions: int(v[3]), errors: int(v[4])}, nil
	}

	g = &series{
		name:  "gokmod (Open once, Plan each with IgnoreLoaded)",
		note:  "Plan + Probe.DryRun for each name with one Loader",
		names: len(names),
	}
	k = &series{
		name:  "libkmod " + firstLineOr("?", "pkg-config", "--modversion", "libkmod") + " (C harness)",
		note:  "kmod_module_new_from_lookup + kmod_module_probe_insert_module(DRY_RUN, IGNORE_LOADED) for each name with one kmod_ctx",
		names: len(names),
	}
	// Warm-up: page cache, mapped index pages, Go heap size.
	gokmodPlanAll(l, names)
	if _, err := libkmodPass(); err != nil {
		return nil, nil, err
	}
	for i := range c.passes {
		// Alternate which one goes first.
		if i%2 == 0 {
			g.passes = append(g.passes, gokmodPlanAll(l, names))
		}
		kp, err := libkmodPass()
		if err != nil {
			return nil, nil, err
		}
		k.passes = append(k.passes, kp)
		if i%2 == 1 {
			g.passes = append(g.passes, gokmodPlanAll(l, names))
		}
	}
	return g, k, nil
}

// urootOpts returns u-root's dry-run options for the tree, counting the
// modules it would load in actions.
func urootOpts(c *config, actions *atomic.Int64) kmodule.ProbeOpts {
	return kmodule.ProbeOpts{
		RootDir:        c.tree,
		KVer:           c.release,
		IgnoreProcMods: true,
		DryRunCB:       func(string) { actions.Add(1) },
	}
}

// urootProbeOptions resolves each name with kmodule.ProbeOptions, u-root's
// one-call dry-run entry point: every call reads modules.dep and
// modules.builtin again and resolves the name by scanning the whole map.
func urootProbeOptions(c *config, names []string) *series {
	var actions atomic.Int64
	opts := urootOpts(c, &actions)
	one := func(names []string) passResult {
		actions.Store(0)
		r := timed(func(r *passResult) {
			for _, n := range names {
				if err := kmodule.ProbeOptions(n, "", opts); err != nil {
					r.errors++
				}
			}
		})
		r.actions = int(actions.Load())
		return r
	}
	one(names[:min(len(names), 50)]) // warm-up
	s := &series{
		name:  "u-root kmodule.ProbeOptions (DryRunCB, IgnoreProcMods)",
		note:  "one ProbeOptions call per name: parses modules.dep + modules.builtin each time; no aliases, config or softdeps",
		names: len(names),
	}
	for range c.uPasses {
		s.passes = append(s.passes, one(names))
	}
	return s
}

// urootProber resolves each name with one kmodule.Prober. Its per-module
// sync.Once means a module shown once is never shown again, so later
// names do less work than a real dry run: the figure flatters u-root.
func urootProber(c *config, names []string) *series {
	var actions atomic.Int64
	opts := urootOpts(c, &actions)
	s := &series{
		name:  "u-root kmodule.Prober (NewProber once, Probe each)",
		note:  "modules.dep parsed once (not timed); each module is dry-run at most once per Prober, so later names skip shared dependencies",
		names: len(names),
	}
	for pass := 0; pass <= c.uPasses; pass++ {
		p, err := kmodule.NewProber(opts)
		if err != nil {
			s.passes = append(s.passes, passResult{errors: len(names)})
			continue
		}
		actions.Store(0)
		r := timed(func(r *passResult) {
			for _, n := range names {
				if err := p.Probe(n, ""); err != nil {
					r.errors++
				}
			}
		})
		r.actions = int(actions.Load())
		if pass > 0 {
			s.passes = append(s.passes, r)
		}
	}
	return s
}
