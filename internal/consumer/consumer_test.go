package consumer_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"example.com/consumer"
	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/modprobetest"
)

const release = "6.1.0-consumer"

// tree writes a module tree under a new root and returns the root.
func tree(t *testing.T, mods ...modprobetest.Module) string {
	t.Helper()
	root := t.TempDir()
	if _, err := modprobetest.WriteTree(root, release, mods...); err != nil {
		t.Fatal(err)
	}
	return root
}

// logger collects what Show reports, without a lock of its own: Show's
// calls never overlap.
type logger struct{ lines []string }

func (g *logger) show(a modprobe.Action) { g.lines = append(g.lines, a.String()) }

func TestKataModules(t *testing.T) {
	root := tree(t,
		modprobetest.Module{Name: "base"},
		modprobetest.Module{Name: "gpu", Depends: []string{"base"}, Params: []string{"mode:int"}},
	)
	k := modprobetest.NewKernel(t)
	l := k.Open(t, modprobe.Options{RootDir: root, KernelRelease: release})
	var g logger
	if err := consumer.LoadKataModules(context.Background(), l, []string{"gpu mode=2"}, g.show); err != nil {
		t.Fatal(err)
	}
	if got := k.Inserted(); !slices.Equal(got, []string{"base", "gpu"}) {
		t.Errorf("inserted %v", got)
	}
	if len(g.lines) != 2 {
		t.Errorf("Show saw %q", g.lines)
	}

	err := consumer.LoadKataModules(context.Background(), l, []string{"no_such_module"}, nil)
	var me *modprobe.ModuleError
	if !errors.As(err, &me) || !errors.Is(err, modprobe.ErrNotFound) || me.Module != "no_such_module" {
		t.Errorf("missing module: %v", err)
	}
}

func TestHookModulesEightJobs(t *testing.T) {
	var mods []modprobetest.Module
	var names []string
	for _, n := range strings.Split("a b c d e f g h i j k l m n o p", " ") {
		mods = append(mods, modprobetest.Module{Name: "m_" + n, Depends: []string{"shared"}})
		names = append(names, "m_"+n)
	}
	mods = append(mods, modprobetest.Module{Name: "shared"}, modprobetest.Module{Name: "broken"})
	root := tree(t, mods...)
	k := modprobetest.NewKernel(t)
	k.FailInsert("broken", syscall.EPERM)
	l := k.Open(t, modprobe.Options{RootDir: root, KernelRelease: release})
	var g logger
	env := []string{"PATH=/bin", "KERNEL_MODULES=" + strings.Join(names, ",") + ",broken,missing"}
	failures := consumer.LoadHookModules(context.Background(), l, env, g.show)
	if len(failures) != 2 || failures[0].Module != "broken" || !errors.Is(failures[0], syscall.EPERM) || !errors.Is(failures[1], modprobe.ErrNotFound) {
		t.Errorf("failures %v", failures)
	}
	if got := len(k.Inserted()); got != len(names)+1 {
		t.Errorf("%d modules inserted, want %d", got, len(names)+1)
	}
	if len(g.lines) != len(names)+2 { // every module, shared once, broken tried
		t.Errorf("Show saw %d actions: %q", len(g.lines), g.lines)
	}
}

func TestKMMWorkerStep(t *testing.T) {
	host := tree(t, modprobetest.Module{Name: "intree_drv"})
	image := tree(t, modprobetest.Module{Name: "oot_drv", Params: []string{"x:int"}})
	k := modprobetest.NewKernel(t)
	hl := k.Open(t, modprobe.Options{RootDir: host, KernelRelease: release})
	il := k.Open(t, modprobe.Options{RootDir: image, KernelRelease: release})
	ctx := context.Background()
	if err := hl.Load(ctx, "intree_drv"); err != nil {
		t.Fatal(err)
	}
	if err := consumer.LoadFromImageTree(ctx, hl, il, []string{"intree_drv", "not_loaded"}, "oot_drv"); err != nil {
		t.Fatal(err)
	}
	if got := k.Loaded(); !slices.Equal(got, []string{"oot_drv"}) {
		t.Errorf("loaded %v, want only the image's module", got)
	}
	if ins := k.Inserts(); filepath.Dir(filepath.Dir(ins[len(ins)-1].File)) != filepath.Join(image, "lib/modules", release) {
		t.Errorf("oot_drv came from %s, not the image's tree", ins[len(ins)-1].File)
	}
}

// TestWaiterDeadline: two workers load the same module; the one with a
// short deadline returns when it passes, whatever the other is doing.
func TestWaiterDeadline(t *testing.T) {
	root := tree(t, modprobetest.Module{Name: "slow"})
	k := modprobetest.NewKernel(t)
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	k.OnInsert(func(modprobetest.Insert) error {
		once.Do(func() { close(started) })
		<-release
		return nil
	})
	l := k.Open(t, modprobe.Options{RootDir: root, KernelRelease: "6.1.0-consumer"})
	first := make(chan error, 1)
	go func() { first <- l.Load(context.Background(), "slow") }()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := l.Load(ctx, "slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second caller: %v, want its deadline", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Error(err)
	}
}
