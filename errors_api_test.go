package modprobe_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// documentedOps are the Op constants errors.go documents.
var documentedOps = map[modprobe.Op]bool{
	modprobe.OpOpen: true, modprobe.OpLookup: true, modprobe.OpPlan: true, modprobe.OpLoad: true,
	modprobe.OpInsert: true, modprobe.OpInstall: true, modprobe.OpRemove: true, modprobe.OpDelete: true,
	modprobe.OpState: true, modprobe.OpConfig: true, modprobe.OpList: true,
}

// checkModuleErrors fails unless err is a *ModuleError whose every
// ModuleError (itself and those it wraps) has a documented Op.
func checkModuleErrors(t *testing.T, what string, err error) {
	t.Helper()
	var me *modprobe.ModuleError
	if !errors.As(err, &me) {
		t.Errorf("%s: %T %v is no *ModuleError", what, err, err)
		return
	}
	for _, f := range modprobe.Failures(err) {
		for e := error(f); e != nil; {
			if m, ok := e.(*modprobe.ModuleError); ok && !documentedOps[m.Op] {
				t.Errorf("%s: Op %q is not one of the documented constants", what, m.Op)
			}
			e = errors.Unwrap(e)
		}
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// TestNoBareSentinel walks the API's error paths: every error is a
// *ModuleError with a documented Op, and the sentinel is found by
// errors.Is.
func TestNoBareSentinel(t *testing.T) {
	ctx := context.Background()
	lt := newLoadTree(t, stackTree, stackInfo)

	l := lt.open(t, modprobe.Options{})
	cases := []struct {
		what string
		err  error
		want error
	}{
		{"Load of a missing module", l.Load(ctx, "nosuch"), modprobe.ErrNotFound},
		{"Load of a bad name", l.Load(ctx, "bad[name"), modprobe.ErrBadName},
		{"Load with a bad parameter", l.Load(ctx, "p", "a=b\nc"), modprobe.ErrBadParams},
		{"LoadAll of a missing module", l.LoadAll(ctx, "a", "nosuch"), modprobe.ErrNotFound},
		{"Remove of a module not loaded, first time", l.RemoveWith(ctx, []string{"x"}, modprobe.RemoveOptions{FirstTime: true}), modprobe.ErrNotLoaded},
		{"Remove of a builtin module", l.Remove(ctx, "bi"), modprobe.ErrBuiltin},
		{"WriteConfig into a failing writer", l.WriteConfig(ctx, failingWriter{}), syscall.ENOSPC},
	}
	_, err := l.Lookup(ctx, "nosuch")
	cases = append(cases, struct {
		what string
		err  error
		want error
	}{"Lookup of a missing module", err, modprobe.ErrNotFound})
	_, err = l.Plan(ctx, "nosuch", nil, modprobe.PlanOptions{})
	cases = append(cases, struct {
		what string
		err  error
		want error
	}{"Plan of a missing module", err, modprobe.ErrNotFound})

	require.NoError(t, os.Rename(filepath.Join(lt.K.ProcDir(), "modules"), filepath.Join(lt.K.ProcDir(), "modules.gone")))
	_, err = l.Loaded()
	cases = append(cases, struct {
		what string
		err  error
		want error
	}{"Loaded without /proc/modules", err, os.ErrNotExist})
	require.NoError(t, os.Rename(filepath.Join(lt.K.ProcDir(), "modules.gone"), filepath.Join(lt.K.ProcDir(), "modules")))

	closed := lt.open(t, modprobe.Options{})
	require.NoError(t, closed.Close())
	closedCalls := map[string]error{
		"Load":        closed.Load(ctx, "a"),
		"LoadAll":     closed.LoadAll(ctx, "a", "b"),
		"Remove":      closed.Remove(ctx, "a"),
		"WriteConfig": closed.WriteConfig(ctx, io.Discard),
		"InsertFile":  closed.InsertFile(ctx, lt.path("kernel/a.ko"), "", modprobe.LoadOptions{}),
	}
	_, closedCalls["Lookup"] = closed.Lookup(ctx, "a")
	_, closedCalls["Plan"] = closed.Plan(ctx, "a", nil, modprobe.PlanOptions{})
	_, closedCalls["State"] = closed.State("a")
	_, closedCalls["LookupFile"] = closed.LookupFile(ctx, lt.path("kernel/a.ko"))
	for name, err := range closedCalls {
		cases = append(cases, struct {
			what string
			err  error
			want error
		}{name + " on a closed Loader", err, modprobe.ErrClosed})
	}

	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.what, c.err, c.want)
			continue
		}
		checkModuleErrors(t, c.what, c.err)
	}
}

// TestOuterErrorCarriesKernelLog: errors.As finds the outer "load" error
// first; it carries the kernel's lines of the insert it wraps, and the
// message says them once.
func TestOuterErrorCarriesKernelLog(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	l := lt.open(t, modprobe.Options{})
	err := l.Load(context.Background(), "p", "count=x")
	var me *modprobe.ModuleError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, modprobe.OpLoad, me.Op)
	require.Len(t, me.KernelLog, 1)
	assert.Contains(t, me.KernelLog[0], "invalid for parameter `count'")
	assert.Equal(t, 1, strings.Count(err.Error(), "invalid for parameter"), "the kernel's line in %q", err)
}

// TestFailures splits LoadAll's joined error into one ModuleError per
// failure: the failing dependency's, not the requested module's.
func TestFailures(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	lt.K.FailInsert("b", syscall.EPERM)
	l := lt.open(t, modprobe.Options{})
	err := l.LoadAll(context.Background(), "mod-dash", "x", "nosuch")
	fs := modprobe.Failures(err)
	require.Len(t, fs, 2, "failures of %v", err)
	assert.Equal(t, modprobe.OpInsert, fs[0].Op)
	assert.Equal(t, "b", fs[0].Module)
	assert.ErrorIs(t, fs[0], syscall.EPERM)
	assert.Equal(t, "nosuch", fs[1].Module)
	assert.ErrorIs(t, fs[1], modprobe.ErrNotFound)
	assert.Nil(t, modprobe.Failures(nil))

	bare := modprobe.Failures(errors.Join(context.Canceled))
	require.Len(t, bare, 1)
	assert.Equal(t, modprobe.Op(""), bare[0].Op)
	assert.ErrorIs(t, bare[0], context.Canceled)
	assert.Equal(t, context.Canceled.Error(), bare[0].Error())
}
