package modprobe_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chainTree: dash -> c -> b -> a, aliases shared by several modules.
var chainTree = map[string]string{
	"modules.dep": `kernel/x.ko:
kernel/a.ko:
kernel/b.ko: kernel/a.ko
kernel/c.ko.xz: kernel/b.ko kernel/a.ko
kernel/mod-dash.ko: kernel/c.ko.xz kernel/b.ko kernel/a.ko
kernel/soft.ko:
kernel/inst.ko:
`,
	"modules.alias": `# Aliases extracted from modules themselves.
alias fs-foo x
alias pci:v00001234d*sv*sd*bc*sc*i* x
alias fs-foo a
alias fs-f* a
alias dmi*:svnACME*:pvr* a
alias net-pf-[1-3] a
alias fs-foo b
alias c-alias c
`,
	"modules.symbols": `# Aliases for symbols, used by symbol_request().
alias symbol:a_fn a
alias symbol:b_fn b
`,
	"modules.builtin":         "kernel/fs/ext4/ext4.ko\nkernel/drivers/bi-one.ko\n",
	"modules.builtin.modinfo": "ext4.alias=fs-ext4\x00ext4.license=GPL\x00bi_one.alias=bi-*\x00",
}

func TestLookupChain(t *testing.T) {
	tt := newTree(t, mergeFiles(chainTree, map[string]string{
		"conf/a.conf": "alias a c\nalias cfg* x\ninstall nomod /bin/true\nremove rmonly /bin/false\n",
	}))
	l := tt.open(t)
	for _, tc := range []struct {
		name string
		want []string // module names; "+" suffix marks builtin
	}{
		{"a", []string{"c"}},                               // a config alias beats a module of the same name
		{"b", []string{"b"}},                               // modules.dep by name
		{"mod-dash", []string{"mod_dash"}},                 // '-' and '_' are equivalent
		{"mod_dash", []string{"mod_dash"}},                 //
		{"fs-foo", []string{"x", "a", "a", "b"}},           // every match, priority order, no de-duplication
		{"fs_foo", []string{"x", "a", "a", "b"}},           //
		{"fs-fat", []string{"a"}},                          // wildcard
		{"dmi:bvn:svnACME Inc/Sub:pvrX/Y:", []string{"a"}}, // '*' crosses '/'
		{"net-pf-2", []string{"a"}},                        // brackets keep their '-'
		{"net-pf-4", nil},
		{"symbol:b_fn", []string{"b"}},
		{"nomod", []string{"nomod"}}, // install command without a module
		{"rmonly", []string{"rmonly"}},
		{"cfg-anything", []string{"x"}},
		{"ext4", []string{"ext4+"}},    // a builtin module
		{"fs-ext4", []string{"ext4+"}}, // a builtin alias
		{"bi-one", []string{"bi_one+"}},
		{"bi-other", []string{"bi_one+"}},
	} {
		mods, err := l.Lookup(context.Background(), tc.name)
		if tc.want == nil {
			if !errors.Is(err, modprobe.ErrNotFound) {
				t.Errorf("Lookup(%q) = %v, %v; want ErrNotFound", tc.name, mods, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Lookup(%q): %v", tc.name, err)
			continue
		}
		var got []string
		for _, m := range mods {
			n := m.Name
			if m.Builtin {
				n += "+"
			}
			got = append(got, n)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Lookup(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestLookupErrors(t *testing.T) {
	l := newTree(t, chainTree).open(t)
	for _, name := range []string{"bad[", "x]y", "a\x00b" + strings.Repeat("]", 1)} {
		_, err := l.Lookup(context.Background(), name)
		if !errors.Is(err, modprobe.ErrBadName) {
			t.Errorf("Lookup(%q) error = %v, want ErrBadName", name, err)
		}
		var me *modprobe.ModuleError
		if !errors.As(err, &me) || me.Module != name {
			t.Errorf("Lookup(%q) error %v is not a *ModuleError naming the input", name, err)
		}
	}
	_, err := l.Lookup(context.Background(), "nope")
	if !errors.Is(err, modprobe.ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Lookup(nope) = %v", err)
	}
}

func TestPlanOrder(t *testing.T) {
	tt := newTree(t, mergeFiles(chainTree, map[string]string{
		"conf/a.conf": "softdep b pre: x\n",
	}))
	got := showDepends(t, tt.open(t), "mod-dash")
	want := []string{
		"insmod " + tt.path("kernel/a.ko") + " ",
		"insmod " + tt.path("kernel/x.ko") + " ",
		"insmod " + tt.path("kernel/b.ko") + " ",
		"insmod " + tt.path("kernel/c.ko.xz") + " ",
		"insmod " + tt.path("kernel/mod-dash.ko") + " ",
	}
	if !slices.Equal(got, want) {
		t.Errorf("show-depends mod-dash:\n got %q\nwant %q", got, want)
	}
}

func TestPlanSoftdepRepeats(t *testing.T) {
	// A softdep on the target's own dependency makes kmod list modules
	// again; --show-depends prints every occurrence.
	tt := newTree(t, mergeFiles(chainTree, map[string]string{
		"conf/a.conf": "softdep c pre: b\n",
	}))
	got := showDepends(t, tt.open(t), "c")
	a, b, c := "insmod "+tt.path("kernel/a.ko")+" ", "insmod "+tt.path("kernel/b.ko")+" ", "insmod "+tt.path("kernel/c.ko.xz")+" "
	if want := []string{a, b, a, b, c}; !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestPlanSoftdepLoop(t *testing.T) {
	tt := newTree(t, map[string]string{
		"modules.dep": "kernel/la.ko: kernel/lb.ko\nkernel/lb.ko:\n",
		"conf/a.conf": "softdep lb post: la\nsoftdep la pre: lb\n",
	})
	got := showDepends(t, tt.open(t), "la")
	la, lb := "insmod "+tt.path("kernel/la.ko")+" ", "insmod "+tt.path("kernel/lb.ko")+" "
	// lb (dependency of la) pulls la in as a post softdep; la is the
	// target, already visited; then la's own pre softdep lb is visited
	// once more as a softdep target.
	if want := []string{lb, lb, la}; !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestPlanInstallCommands(t *testing.T) {
	tt := newTree(t, mergeFiles(chainTree, map[string]string{
		"conf/a.conf": `install inst /bin/echo $CMDLINE_OPTS
install soft /bin/false
softdep soft pre: x
options inst cfg=1
`,
	}))
	l := tt.open(t)
	if got, want := showDepends(t, l, "inst", "p=1"), []string{"install /bin/echo $CMDLINE_OPTS cfg=1 p=1"}; !slices.Equal(got, want) {
		t.Errorf("install: got %q, want %q", got, want)
	}
	// A softdep cancels the install command.
	if got := showDepends(t, l, "soft"); len(got) != 2 || !strings.HasPrefix(got[1], "insmod ") {
		t.Errorf("softdep should cancel the install command: %q", got)
	}
	// -i ignores the command and the target's softdeps.
	plan, err := l.Plan(context.Background(), "inst", nil, modprobe.PlanOptions{IgnoreLoaded: true, IgnoreCommands: true})
	if err != nil {
		t.Fatal(err)
	}
	if a := plan.Probes[0].Actions; len(a) != 1 || a[0].Kind != modprobe.ActionInsert || a[0].Params != "cfg=1 " {
		t.Errorf("-i: got %+v", a)
	}
}

func TestPlanOptions(t *testing.T) {
	tt := newTree(t, mergeFiles(chainTree, map[string]string{
		"conf/a.conf": "alias myc c\noptions myc via_alias=1\noptions c  lead=1\toption_tab=2\noptions b dep=1\n",
	}))
	l := tt.open(t)
	plan, err := l.Plan(context.Background(), "myc", []string{"x=1", "y=a b"}, modprobe.PlanOptions{IgnoreLoaded: true})
	if err != nil {
		t.Fatal(err)
	}
	acts := plan.Probes[0].Actions
	got := map[string]string{}
	for _, a := range acts {
		got[a.Module] = a.Params
	}
	want := map[string]string{
		"a": "",
		"b": "dep=1 ",                                       // configuration only: a trailing space
		"c": `via_alias=1  lead=1 option_tab=2 x=1 y="a b"`, // alias options, kept spaces, tabs, quoted caller params
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("params of %s = %q, want %q", k, got[k], v)
		}
	}
	if !acts[len(acts)-1].Requested || acts[0].Requested {
		t.Errorf("only the target is Requested: %+v", acts)
	}
}

func TestJoinParams(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"a=1"}, "a=1"},
		{[]string{"a=1", "b=x y"}, `a=1 b="x y"`},
		{[]string{`c="x y"`, "d='p q'", "e", "f=g=h i"}, `c="x y" d='p q' e f="g=h i"`},
		{[]string{"no equals here"}, "no equals here"},
	} {
		if got := modprobe.JoinParams(tc.in); got != tc.want {
			t.Errorf("JoinParams(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPlanBlacklist(t *testing.T) {
	tt := newTree(t, mergeFiles(chainTree, map[string]string{
		"conf/a.conf": "blacklist x\nblacklist a\n",
	}))
	l := tt.open(t)
	plan, err := l.Plan(context.Background(), "fs-foo", nil, modprobe.PlanOptions{IgnoreLoaded: true})
	if err != nil {
		t.Fatal(err)
	}
	var skips []modprobe.Skip
	for _, pr := range plan.Probes {
		skips = append(skips, pr.Skip)
	}
	// x and a reached through the alias are skipped, b is not.
	want := []modprobe.Skip{modprobe.SkipBlacklisted, modprobe.SkipBlacklisted, modprobe.SkipBlacklisted, modprobe.SkipNone}
	if !slices.Equal(skips, want) {
		t.Errorf("skips = %v, want %v", skips, want)
	}
	// By name, and as a dependency, a blacklisted module still loads.
	if got := showDepends(t, l, "b"); len(got) != 2 {
		t.Errorf("b should load a as a dependency: %q", got)
	}
	plan, err = l.Plan(context.Background(), "x", nil, modprobe.PlanOptions{IgnoreLoaded: true, UseBlacklist: true})
	if err != nil || plan.Probes[0].Skip != modprobe.SkipBlacklisted {
		t.Errorf("-b x: %+v, %v", plan, err)
	}
}

func TestPlanLoadedState(t *testing.T) {
	tt := newTree(t, mergeFiles(chainTree, map[string]string{
		"sys/module/a/initstate": "live\n",
		"sys/module/b/refcnt":    "0\n", // a directory without initstate: coming
		"sys/module/x/initstate": "going\n",
	}))
	l := tt.open(t)
	plan, err := l.Plan(context.Background(), "c", nil, modprobe.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	loaded := map[string]bool{}
	for _, a := range plan.Probes[0].Actions {
		loaded[a.Module] = a.Loaded
	}
	if !loaded["a"] || loaded["b"] || loaded["c"] {
		t.Errorf("loaded = %v, want only a", loaded)
	}
	plan, err = l.Plan(context.Background(), "a", nil, modprobe.PlanOptions{})
	if err != nil || plan.Probes[0].Skip != modprobe.SkipLoaded {
		t.Fatalf("a is live: %+v %v", plan, err)
	}
	if err := plan.Probes[0].DryRun(modprobe.DryRunOptions{FirstTime: true}, nil); !errors.Is(err, modprobe.ErrAlreadyLoaded) {
		t.Errorf("first-time on a live module: %v", err)
	}
	if err := plan.Probes[0].DryRun(modprobe.DryRunOptions{}, nil); err != nil {
		t.Errorf("a live module is success: %v", err)
	}
	// A builtin module counts as loaded.
	plan, err = l.Plan(context.Background(), "ext4", nil, modprobe.PlanOptions{})
	if err != nil || plan.Probes[0].Skip != modprobe.SkipLoaded {
		t.Errorf("builtin: %+v %v", plan, err)
	}
	if got := showDepends(t, l, "ext4"); !slices.Equal(got, []string{"builtin ext4"}) {
		t.Errorf("show-depends builtin: %q", got)
	}
}

func mergeFiles(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestConcurrentPlans(t *testing.T) {
	files := mergeFiles(chainTree, map[string]string{"conf/a.conf": "softdep b pre: x\n"})
	for _, bin := range []bool{false, true} {
		tt := newTree(t, files)
		if bin {
			tt.writeBinIndexes(t)
		}
		want := showDepends(t, tt.open(t), "mod-dash")
		l := tt.open(t) // a fresh Loader: its indexes load under contention
		type result struct {
			lines []string
			err   error
		}
		done := make(chan result)
		for range 16 {
			go func() {
				var r result
				plan, err := l.Plan(context.Background(), "mod-dash", nil, modprobe.PlanOptions{IgnoreLoaded: true})
				if err != nil {
					r.err = err
				} else {
					_ = plan.Probes[0].DryRun(modprobe.DryRunOptions{}, func(a modprobe.Action) { r.lines = append(r.lines, a.String()) })
				}
				done <- r
			}()
		}
		for range 16 {
			r := <-done
			if r.err != nil || !slices.Equal(r.lines, want) {
				t.Errorf("bin=%v: concurrent plan = %q, %v; want %q", bin, r.lines, r.err, want)
			}
		}
	}
}

func TestClose(t *testing.T) {
	tt := newTree(t, chainTree)
	for _, use := range []bool{false, true} {
		l := tt.open(t)
		if use {
			if _, err := l.Lookup(context.Background(), "a"); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, err := l.Lookup(context.Background(), "a"); !errors.Is(err, modprobe.ErrClosed) {
			t.Errorf("Lookup after Close (used=%v): %v", use, err)
		}
		if _, err := l.Plan(context.Background(), "a", nil, modprobe.PlanOptions{}); !errors.Is(err, modprobe.ErrClosed) {
			t.Errorf("Plan after Close: %v", err)
		}
	}
}

func TestContextDone(t *testing.T) {
	l := newTree(t, chainTree).open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Plan(ctx, "a", nil, modprobe.PlanOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Plan with a done context: %v", err)
	}
}

// TestPlanDeferStateChecks: a plan made to be run by LoadProbe leaves the
// dependencies' state to LoadProbe, which reads it when it reaches each
// module, so a bad state is logged once, not once by Plan and again by
// LoadProbe; a plan for showing reads it now (Action.Loaded). The option
// says what it does for a program: PlanOptions has no ForLoad, the name
// the CLI's knob used to have.
func TestPlanDeferStateChecks(t *testing.T) {
	_, hasForLoad := reflect.TypeFor[modprobe.PlanOptions]().FieldByName("ForLoad")
	assert.False(t, hasForLoad, "PlanOptions.ForLoad is exported")

	for _, deferred := range []bool{false, true} {
		lt := newLoadTree(t, stackTree, stackInfo)
		require.NoError(t, os.MkdirAll(filepath.Join(lt.K.SysfsDir(), "module/a"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(lt.K.SysfsDir(), "module/a/initstate"), []byte("bogus\n"), 0o644))
		var buf bytes.Buffer
		l := lt.open(t, modprobe.Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
		ctx := context.Background()
		plan, err := l.Plan(ctx, "b", nil, modprobe.PlanOptions{DeferStateChecks: deferred})
		require.NoError(t, err)
		require.Len(t, plan.Probes, 1)
		require.NoError(t, l.LoadProbe(ctx, &plan.Probes[0], modprobe.LoadOptions{}))
		assert.Equal(t, []string{"a", "b"}, lt.inserted(), "deferred=%v", deferred)
		want := 2
		if deferred {
			want = 1
		}
		assert.Equal(t, want, strings.Count(buf.String(), `"event":"initstate-bad"`), "deferred=%v: records\n%s", deferred, buf.String())
	}
}
