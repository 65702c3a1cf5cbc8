package modprobe_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/modprobetest"
)

// TestPlanFile: a module file outside the tree is planned as modprobe PATH
// does (kmod 31): the file itself, after its name's modules.dep
// dependencies from the tree, with its name's options; a relative path is
// made absolute without cleaning; and the plan loads.
func TestPlanFile(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	l := lt.open(t, modprobe.Options{})
	ctx := context.Background()
	// b.ko.xz in a directory of its own, outside the tree.
	dir, err := modprobetest.WriteTree(t.TempDir(), treeRelease,
		modprobetest.Module{Name: "a"},
		modprobetest.Module{Name: "b", Path: "b.ko.xz", Depends: []string{"a"}, Params: stackInfo["b"]})
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)

	plan, err := l.PlanFile(ctx, "./b.ko.xz", []string{"x=1"}, modprobe.PlanOptions{IgnoreLoaded: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range plan.Probes[0].Actions {
		got = append(got, a.String())
	}
	want := []string{"insmod " + lt.ModDir + "/kernel/a.ko ", "insmod " + dir + "/./b.ko.xz opt_b=1 x=1"}
	if len(plan.Probes) != 1 || plan.Probes[0].Module.Name != "b" || !slices.Equal(got, want) {
		t.Fatalf("PlanFile(./b.ko.xz) = %d probes, %q; want b with %q", len(plan.Probes), got, want)
	}
	if m, err := l.LookupFile(ctx, dir+"/b.ko.xz"); err != nil || m.Name != "b" || m.Path != dir+"/b.ko.xz" {
		t.Errorf("LookupFile = %+v, %v", m, err)
	}

	plan, err = l.PlanFile(ctx, dir+"/b.ko.xz", nil, modprobe.PlanOptions{DeferStateChecks: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.LoadProbe(ctx, &plan.Probes[0], modprobe.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := lt.inserted(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("inserted %v, want a, b", got)
	}
}

// TestPlanFileErrors: the file's own error, kmod's ENOENT for a path with
// no file name, ErrBadName for a NUL; always a *ModuleError naming the
// path as given.
func TestPlanFileErrors(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	l := lt.open(t, modprobe.Options{})
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "f.ko")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want []error
	}{
		{dir + "/nosuch.ko", []error{fs.ErrNotExist, syscall.ENOENT}},
		{file + "/x.ko", []error{syscall.ENOTDIR}},
		{dir + "/", []error{syscall.ENOENT}},
		{"/", []error{syscall.ENOENT}},
		{"a\x00b", []error{modprobe.ErrBadName}},
		{"", []error{modprobe.ErrBadName}},
	} {
		_, err := l.PlanFile(ctx, c.path, nil, modprobe.PlanOptions{})
		_, lerr := l.LookupFile(ctx, c.path)
		var me *modprobe.ModuleError
		for _, e := range []error{err, lerr} {
			if !errors.As(e, &me) || me.Module != c.path {
				t.Errorf("%q: %v, want a *ModuleError for it", c.path, e)
			}
			for _, w := range c.want {
				if !errors.Is(e, w) {
					t.Errorf("%q: %v, want it to wrap %v", c.path, e, w)
				}
			}
		}
	}
	// A name for a path: Plan looks it up as a name, and finds nothing.
	if _, err := l.Plan(ctx, file, nil, modprobe.PlanOptions{}); !errors.Is(err, modprobe.ErrNotFound) {
		t.Errorf("Plan(%s) = %v, want ErrNotFound", file, err)
	}
	ctxDone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.PlanFile(ctxDone, file, nil, modprobe.PlanOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("PlanFile with a done context = %v", err)
	}
}
