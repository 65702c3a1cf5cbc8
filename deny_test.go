package modprobe_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe"
)

// denyTree: top needs mid, which needs floppy (denied); soft has a
// softdep on floppy; runner's install command runs a program that
// records GOKMOD_DENY; cmdmod, denied, has an install command.
var denyTree = map[string]string{
	"modules.dep": `kernel/base.ko:
kernel/floppy.ko:
kernel/mid.ko: kernel/floppy.ko
kernel/top.ko: kernel/base.ko kernel/mid.ko kernel/floppy.ko
kernel/soft.ko:
kernel/snd-pcm.ko:
kernel/cmdmod.ko:
kernel/runner.ko:
kernel/ok.ko:
kernel/sdepdep.ko:
kernel/sdep.ko: kernel/sdepdep.ko
kernel/soft2.ko:
kernel/soft3.ko:
`,
	"modules.alias": "alias fd-disk floppy\n",
}

func denyLoadTree(t *testing.T, conf string) *loadTree {
	t.Helper()
	files := map[string]string{"conf/t.conf": conf}
	for k, v := range denyTree {
		files[k] = v
	}
	return newLoadTree(t, files, nil)
}

func TestDenyEveryPath(t *testing.T) {
	ctx := context.Background()
	mark := filepath.Join(t.TempDir(), "ran")
	conf := "softdep soft pre: floppy base\n" +
		"softdep soft2 pre: sdep\n" +
		"softdep soft3 pre: sdep sdepdep\n" +
		"install cmdmod touch " + mark + "\n" +
		"install runner echo \"$GOKMOD_DENY\" > " + mark + "\n"
	type check func(t *testing.T, lt *loadTree, l *modprobe.Loader)
	for _, tc := range []struct {
		name     string
		deny     []string
		run      func(l *modprobe.Loader, lt *loadTree) error
		denied   bool     // ErrDenied expected
		inserted []string // what the fake kernel took
		check    check
	}{
		{name: "by name", deny: []string{"floppy"}, run: load("floppy"), denied: true},
		{name: "by alias", deny: []string{"floppy"}, run: load("fd-disk"), denied: true},
		{name: "by dependency, nothing inserted", deny: []string{"floppy"}, run: load("top"), denied: true},
		{name: "by softdep: left out", deny: []string{"floppy"}, run: load("soft"), inserted: []string{"base", "soft"}},
		{name: "by softdep: what it needs left out too", deny: []string{"sdep"}, run: load("soft2"), inserted: []string{"soft2"}},
		{name: "by softdep: a softdep of its own still loads", deny: []string{"sdep"}, run: load("soft3"), inserted: []string{"sdepdep", "soft3"}},
		{name: "pattern and dashes", deny: []string{"snd_*"}, run: load("snd-pcm"), denied: true},
		{name: "dash in the entry", deny: []string{"snd-pcm"}, run: load("snd_pcm"), denied: true},
		{name: "install command not run", deny: []string{"cmdmod"}, run: load("cmdmod"), denied: true,
			check: func(t *testing.T, _ *loadTree, _ *modprobe.Loader) {
				_, err := os.Stat(mark)
				assert.ErrorIs(t, err, os.ErrNotExist, "the install command ran")
			}},
		{name: "install command gets the list", deny: []string{"floppy", "snd_*"}, run: load("runner"),
			check: func(t *testing.T, _ *loadTree, _ *modprobe.Loader) {
				b, err := os.ReadFile(mark)
				require.NoError(t, err)
				assert.Equal(t, "floppy,snd_*\n", string(b))
			}},
		{name: "load all in parallel", deny: []string{"floppy"}, run: func(l *modprobe.Loader, _ *loadTree) error {
			return l.LoadAllWith(ctx, []string{"ok", "top", "base"}, modprobe.LoadOptions{Jobs: 4})
		}, denied: true, inserted: []string{"base", "ok"}},
		{name: "dry run", deny: []string{"floppy"}, run: func(l *modprobe.Loader, _ *loadTree) error {
			var shown []string
			err := l.LoadWith(ctx, "top", nil, modprobe.LoadOptions{DryRun: true, Show: func(a modprobe.Action) { shown = append(shown, a.String()) }})
			if len(shown) > 0 {
				return errors.New("dry run showed " + strings.Join(shown, "; "))
			}
			return err
		}, denied: true},
		{name: "hand-made probe", deny: []string{"floppy"}, run: func(l *modprobe.Loader, lt *loadTree) error {
			pr := &modprobe.Probe{Module: modprobe.Module{Name: "ok"}, Actions: []modprobe.Action{
				{Kind: modprobe.ActionInsert, Module: "floppy", Path: filepath.Join(lt.ModDir, "kernel/floppy.ko"), Required: true},
				{Kind: modprobe.ActionInsert, Module: "ok", Path: filepath.Join(lt.ModDir, "kernel/ok.ko"), Requested: true, Required: true},
			}}
			return l.LoadProbe(ctx, pr, modprobe.LoadOptions{})
		}, denied: true},
		{name: "insmod", deny: []string{"floppy"}, run: func(l *modprobe.Loader, lt *loadTree) error {
			return l.InsertFile(ctx, filepath.Join(lt.ModDir, "kernel/floppy.ko"), "", modprobe.LoadOptions{})
		}, denied: true},
		{name: "insmod of a renamed file", deny: []string{"floppy"}, run: func(l *modprobe.Loader, lt *loadTree) error {
			b, err := os.ReadFile(filepath.Join(lt.ModDir, "kernel/floppy.ko"))
			if err != nil {
				return err
			}
			p := filepath.Join(t.TempDir(), "innocent.ko")
			if err := os.WriteFile(p, b, 0o644); err != nil {
				return err
			}
			return l.InsertFile(ctx, p, "", modprobe.LoadOptions{})
		}, denied: true},
		{name: "already live: nothing to insert", deny: []string{"floppy"}, run: func(l *modprobe.Loader, lt *loadTree) error {
			if err := lt.K.Preload("floppy"); err != nil {
				return err
			}
			return l.Load(ctx, "top")
		}, inserted: []string{"base", "mid", "top"}},
		{name: "others load", deny: []string{"floppy"}, run: load("ok"), inserted: []string{"ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(mark)
			lt := denyLoadTree(t, conf)
			l := lt.open(t, modprobe.Options{Deny: tc.deny})
			err := tc.run(l, lt)
			if tc.denied {
				require.ErrorIs(t, err, modprobe.ErrDenied)
				assert.ErrorIs(t, err, syscall.EPERM)
				var me *modprobe.ModuleError
				require.ErrorAs(t, err, &me)
			} else {
				require.NoError(t, err)
			}
			assert.ElementsMatch(t, tc.inserted, lt.inserted())
			if tc.check != nil {
				tc.check(t, lt, l)
			}
		})
	}
}

func load(name string) func(l *modprobe.Loader, _ *loadTree) error {
	return func(l *modprobe.Loader, _ *loadTree) error { return l.Load(context.Background(), name) }
}

func TestDenyPlanMarks(t *testing.T) {
	lt := denyLoadTree(t, "")
	l := lt.open(t, modprobe.Options{Deny: []string{"floppy"}})
	plan, err := l.Plan(context.Background(), "top", nil, modprobe.PlanOptions{})
	require.NoError(t, err)
	var marks []string
	for _, a := range plan.Probes[0].Actions {
		if a.Denied {
			marks = append(marks, a.Module)
		}
	}
	assert.Equal(t, []string{"floppy"}, marks)
	err = l.LoadProbe(context.Background(), &plan.Probes[0], modprobe.LoadOptions{})
	require.ErrorIs(t, err, modprobe.ErrDenied)
	assert.Contains(t, err.Error(), "floppy, which top needs, is on the deny list")
	assert.Empty(t, lt.inserted())
}

func TestDenyBadEntries(t *testing.T) {
	lt := denyLoadTree(t, "")
	for _, bad := range [][]string{{""}, {"a b"}, {"a,b"}, {"x\x00"}} {
		_, err := modprobe.Open(lt.K.Options(modprobe.Options{RootDir: lt.Root, KernelRelease: treeRelease, Deny: bad}))
		require.ErrorIs(t, err, modprobe.ErrBadName, "%q", bad)
	}
	assert.Equal(t, []string{"a", "b_c", "d*"}, modprobe.SplitDenyList("a, b_c\td*,,"))
}
