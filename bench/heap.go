package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/gokmod/modprobe"
)

// childEnv, when set, makes the program measure the heap and exit; its
// value is a JSON heapRequest. The heap is measured in a fresh process so
// that nothing else this program did is in it.
const childEnv = "GOKMOD_BENCH_HEAP_CHILD"

// heapTarget is the most Go heap a Loader may keep after opening the full
// tree and planning one module.
const heapTarget = 8 << 20

type heapRequest struct {
	Tree, Release string
	ConfigPaths   []string
	Module        string
}

type heapReport struct {
	Before       runtime.MemStats // after GC, before Open
	AfterOne     runtime.MemStats // after Open + one Plan, after GC
	AfterAll     runtime.MemStats // after planning every module, after GC
	RSSAfterOne  string           // VmRSS from /proc/self/status
	RSSAfterAll  string
	PlannedAll   int
	ActionsOfOne int
}

func partC(c *config) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	req, err := json.Marshal(heapRequest{Tree: c.tree, Release: c.release, ConfigPaths: c.configPaths, Module: c.module})
	if err != nil {
		return err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+string(req))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("heap child: %w", err)
	}
	var r heapReport
	if err := json.Unmarshal(out, &r); err != nil {
		return fmt.Errorf("heap child: %w", err)
	}
	fmt.Printf("A fresh process (this program, re-executed) opens a Loader on the tree, plans %s with IgnoreLoaded, runs runtime.GC and reads runtime.MemStats; "+
		"then it plans all %d modules with the same Loader and measures again.\n\n", c.module, r.PlannedAll)
	fmt.Println("| when | HeapInuse | HeapAlloc | HeapSys | Sys (all Go memory) | VmRSS (incl. mapped index pages) |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	line := func(label string, m *runtime.MemStats, rss string) {
		fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", label, mib(m.HeapInuse), mib(m.HeapAlloc), mib(m.HeapSys), mib(m.Sys), rss)
	}
	line("before Open", &r.Before, "")
	line("after Open + Plan("+c.module+")", &r.AfterOne, r.RSSAfterOne)
	line(fmt.Sprintf("after planning all %d modules", r.PlannedAll), &r.AfterAll, r.RSSAfterAll)
	fmt.Println()
	fmt.Println("| figure | value | target | |")
	fmt.Println("|---|---:|---:|---|")
	fmt.Printf("| Go heap in use after Open + one Plan | %s | <= %s | %s |\n",
		mib(r.AfterOne.HeapInuse), mib(heapTarget), verdict(r.AfterOne.HeapInuse <= heapTarget))
	fmt.Println()
	if c.rowsPath == "" {
		return nil
	}
	h := float64(r.AfterOne.HeapInuse) / (1 << 20)
	return appendRows(c.rowsPath, row{
		ID: "heap", Metric: "heap", Unit: "MiB", ALabel: "gokmod after Open + Plan(" + c.module + ")",
		A: summary{h, h, h}, BLabel: "-", B: summary{nan(), nan(), nan()}, Ratio: summary{nan(), nan(), nan()},
		Rounds: 1, Check: "-",
	})
}

func mib(n uint64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

func vmRSS() string {
	// Not an input: procfs, read for the benchmark report.
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// child measures the heap as requested by the childEnv variable and
// writes a heapReport as JSON to stdout.
func child() int {
	var req heapRequest
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &req); err != nil {
		fmt.Fprintln(os.Stderr, "heap child:", err)
		return 1
	}
	var r heapReport
	runtime.GC()
	runtime.ReadMemStats(&r.Before)

	l, err := modprobe.Open(modprobe.Options{RootDir: req.Tree, KernelRelease: req.Release, ConfigPaths: req.ConfigPaths})
	if err != nil {
		fmt.Fprintln(os.Stderr, "heap child:", err)
		return 1
	}
	plan, err := l.Plan(context.Background(), req.Module, nil, modprobe.PlanOptions{IgnoreLoaded: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "heap child:", err)
		return 1
	}
	for _, p := range plan.Probes {
		r.ActionsOfOne += len(p.Actions)
	}
	runtime.GC()
	runtime.ReadMemStats(&r.AfterOne)
	r.RSSAfterOne = vmRSS()

	names, err := moduleNames(l.ModuleDir())
	if err != nil {
		fmt.Fprintln(os.Stderr, "heap child:", err)
		return 1
	}
	for _, n := range names {
		if _, err := l.Plan(context.Background(), n, nil, modprobe.PlanOptions{IgnoreLoaded: true}); err == nil {
			r.PlannedAll++
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&r.AfterAll)
	r.RSSAfterAll = vmRSS()
	runtime.KeepAlive(plan)
	runtime.KeepAlive(l)

	if err := json.NewEncoder(os.Stdout).Encode(&r); err != nil {
		fmt.Fprintln(os.Stderr, "heap child:", err)
		return 1
	}
	l.Close()
	return 0
}
