package modprobe_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/testmod"
)

// wideTree: 24 modules m00..m23 on a shared base, each even one also
// depending on the odd one after it.
func wideTree() map[string]string {
	var b strings.Builder
	b.WriteString("kernel/base.ko:\n")
	for i := 0; i < 24; i++ {
		if i%2 == 0 {
			fmt.Fprintf(&b, "kernel/m%02d.ko: kernel/m%02d.ko kernel/base.ko\n", i, i+1)
		} else {
			fmt.Fprintf(&b, "kernel/m%02d.ko: kernel/base.ko\n", i)
		}
	}
	return map[string]string{"modules.dep": b.String()}
}

func wideNames(from, to int) []string {
	var names []string
	for i := from; i < to; i++ {
		names = append(names, fmt.Sprintf("m%02d", i))
	}
	return names
}

// checkOnce fails when a module was given to the kernel more than once.
func checkOnce(t *testing.T, lt *loadTree) {
	t.Helper()
	seen := map[string]int{}
	for _, in := range lt.K.Inserts() {
		seen[in.Module]++
		if in.Err != nil {
			t.Errorf("insert of %s failed: %v", in.Module, in.Err)
		}
	}
	for m, n := range seen {
		if n != 1 {
			t.Errorf("%s given to the kernel %d times", m, n)
		}
	}
}

func TestConcurrentLoadsInsertOnce(t *testing.T) {
	lt := newLoadTree(t, wideTree(), nil)
	l := lt.open(t, modprobe.Options{})
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			names := wideNames(g*2, g*2+10) // overlapping windows
			errs[g] = l.LoadAll(context.Background(), names...)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	checkOnce(t, lt)
	if n := len(lt.K.Loaded()); n != 25 {
		t.Errorf("%d modules live, want 25", n)
	}
}

func TestParallelLoadAll(t *testing.T) {
	for _, jobs := range []int{2, 4, -1} {
		t.Run(fmt.Sprint(jobs), func(t *testing.T) {
			lt := newLoadTree(t, wideTree(), nil)
			l := lt.open(t, modprobe.Options{})
			err := l.LoadAllWith(context.Background(), wideNames(0, 24), modprobe.LoadOptions{Jobs: jobs})
			if err != nil {
				t.Fatal(err) // the fake refuses a module before its dependencies
			}
			checkOnce(t, lt)
			if n := len(lt.K.Loaded()); n != 25 {
				t.Errorf("%d modules live, want 25", n)
			}
		})
	}
}

func TestParallelPlanStopsOnFailure(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	lt.K.FailInsert("b", syscall.ENOEXEC)
	l := lt.open(t, modprobe.Options{})
	err := l.LoadWith(context.Background(), "mod-dash", nil, modprobe.LoadOptions{Jobs: 4})
	if !errors.Is(err, syscall.ENOEXEC) {
		t.Fatalf("err = %v", err)
	}
	if lt.K.IsLive("c") || lt.K.IsLive("mod_dash") {
		t.Errorf("loaded %v: nothing that depends on b may be inserted", lt.K.Loaded())
	}
}

func TestLoadContextCanceled(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	l := lt.open(t, modprobe.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := l.LoadWith(ctx, "mod-dash", nil, modprobe.LoadOptions{Show: func(modprobe.Action) {
		if n++; n == 2 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if got := lt.K.Loaded(); len(got) != 2 {
		t.Errorf("loaded %v: the load must stop right after the module in progress", got)
	}
}

func TestLoadBadInput(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	l := lt.open(t, modprobe.Options{MaxModuleSize: 1024})
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		params []string
		want   error
	}{
		{"-r", nil, modprobe.ErrBadName},
		{"../x", nil, modprobe.ErrBadName},
		{"a\x00b", nil, modprobe.ErrBadName},
		{"", nil, modprobe.ErrBadName},
		{"p", []string{"count=1\nname=evil"}, modprobe.ErrBadParams},
		{"p", []string{"count=1\x00"}, modprobe.ErrBadParams},
		{"c", nil, modprobe.ErrTooLarge}, // c.ko.xz is bigger than 1 KiB once decompressed
	} {
		err := l.Load(ctx, tc.name, tc.params...)
		if !errors.Is(err, tc.want) {
			t.Errorf("Load(%q, %q) = %v, want %v", tc.name, tc.params, err, tc.want)
		}
	}
	if got := lt.K.Loaded(); strings.Join(got, ",") != "a,b" {
		t.Errorf("loaded %v: only c's dependencies may be in", got)
	}
}

func TestLoadVanishedAndTruncated(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	l := lt.open(t, modprobe.Options{})
	ctx := context.Background()
	plan, err := l.Plan(ctx, "mod-dash", nil, modprobe.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(lt.path("kernel/b.ko")); err != nil {
		t.Fatal(err)
	}
	err = l.LoadProbe(ctx, &plan.Probes[0], modprobe.LoadOptions{})
	if !errors.Is(err, os.ErrNotExist) || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("vanished file: %v", err)
	}
	if got := lt.K.Loaded(); strings.Join(got, ",") != "a" {
		t.Errorf("loaded %v", got)
	}

	// a truncated .ko.xz
	img, err := (&testmod.Module{Name: "zst"}).ELF()
	if err != nil {
		t.Fatal(err)
	}
	xzData, err := testmod.Compress(img, testmod.Xz)
	if err != nil {
		t.Fatal(err)
	}
	lt2 := newLoadTree(t, stackTree, stackInfo)
	if err := os.WriteFile(lt2.path("kernel/c.ko.xz"), xzData[:len(xzData)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	l2 := lt2.open(t, modprobe.Options{})
	err = l2.Load(ctx, "mod-dash")
	if err == nil || !strings.Contains(err.Error(), "decompressing") {
		t.Errorf("truncated xz: %v", err)
	}
	if got := lt2.K.Loaded(); strings.Join(got, ",") != "a,b" {
		t.Errorf("loaded %v: nothing after c", got)
	}
}
