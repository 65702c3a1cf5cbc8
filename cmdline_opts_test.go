package modprobe_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gokmod/modprobe"
)

// argvRecorder writes a script that appends each of its arguments, one
// per line, to a file, and an install command for module p that runs it
// with $CMDLINE_OPTS. It returns the command line and a function that
// reads back the arguments of the last run (nil if it did not run).
func argvRecorder(t *testing.T) (install string, argv func() []string) {
	t.Helper()
	dir := t.TempDir()
	script, out := filepath.Join(dir, "argv.sh"), filepath.Join(dir, "argv")
	body := "#!/bin/sh\n: >" + out + "\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >>" + out + "; done\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return "install p " + script + " $CMDLINE_OPTS\n", func() []string {
		b, err := os.ReadFile(out)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(out)
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
}

// TestCmdlineOptsQuoted: the caller's parameters reach an install command
// as one word of data each, whatever shell syntax they hold, while the
// configuration's own options stay as the administrator wrote them.
func TestCmdlineOptsQuoted(t *testing.T) {
	install, argv := argvRecorder(t)
	pwned := filepath.Join(t.TempDir(), "pwned")
	lt := newLoadTree(t, withFiles(map[string]string{
		// count=2 comes from stackTree's configuration; cfg shows that the
		// administrator's own text is still read by the shell.
		"conf/i.conf": install + "options p cfg=$((1+1))\n",
	}), stackInfo)
	l := lt.open(t, modprobe.Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		params []string
		want   []string // after the configuration's count=2 and cfg=2
	}{
		{[]string{"name=v"}, []string{"name=v"}},
		{[]string{"max_loop=8${IFS}-a${IFS}dummy"}, []string{"max_loop=8${IFS}-a${IFS}dummy"}},
		// A value with a space is wrapped in double quotes first, as
		// modprobe joins parameters; the shell would run what is inside.
		{[]string{"name=$(touch " + pwned + ")"}, []string{`name="$(touch ` + pwned + `)"`}},
		{[]string{"name=`touch " + pwned + "`"}, []string{"name=\"`touch " + pwned + "`\""}},
		{[]string{"name=$(touch${IFS}" + pwned + ")"}, []string{"name=$(touch${IFS}" + pwned + ")"}},
		{[]string{"name=x;touch${IFS}" + pwned}, []string{"name=x;touch${IFS}" + pwned}},
		{[]string{"name=x|touch${IFS}" + pwned + "&"}, []string{"name=x|touch${IFS}" + pwned + "&"}},
		{[]string{"name=it's"}, []string{"name=it's"}},
		{[]string{"name=*", "count=?"}, []string{"name=*", "count=?"}},
		{[]string{"name=a b"}, []string{`name="a b"`}},
		{[]string{`name="a b"`}, []string{`name="a b"`}},
		{[]string{"name=$CMDLINE_OPTS", "x=1"}, []string{"name=$CMDLINE_OPTS", "x=1"}},
		{[]string{"name=~root", "", "x=\t"}, []string{"name=~root", "x=\t"}},
	} {
		if err := l.Load(ctx, "p", tc.params...); err != nil {
			t.Fatalf("%q: %v", tc.params, err)
		}
		want := append([]string{"cfg=2", "count=2"}, tc.want...)
		if got := argv(); !slices.Equal(got, want) {
			t.Errorf("%q: the command got %q, want %q", tc.params, got, want)
		}
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Error("a parameter ran a command")
	}
	// A parameter starting with '-' would be an option to the command:
	// refused before anything runs, with or without a plan.
	err := l.Load(ctx, "p", "name=1", "-a")
	if !errors.Is(err, modprobe.ErrBadParams) {
		t.Errorf("-a: %v, want ErrBadParams", err)
	}
	plan, err := l.Plan(ctx, "p", []string{"--force"}, modprobe.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.LoadProbe(ctx, &plan.Probes[0], modprobe.LoadOptions{}); !errors.Is(err, modprobe.ErrBadParams) {
		t.Errorf("--force through LoadProbe: %v, want ErrBadParams", err)
	}
	if got := argv(); got != nil {
		t.Errorf("the command ran with %q", got)
	}
	// LoadProbe refuses what LoadWith refuses, install command or not.
	plan, err = l.Plan(ctx, "a", []string{"-x"}, modprobe.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.LoadProbe(ctx, &plan.Probes[0], modprobe.LoadOptions{}); !errors.Is(err, modprobe.ErrBadParams) {
		t.Errorf("-x through LoadProbe without an install command: %v, want ErrBadParams", err)
	}
	if len(lt.K.Inserts()) != 0 {
		t.Errorf("inserts: %v", lt.K.Inserts())
	}
}

// TestCmdlineOptsRaw: with RawCmdlineOpts, kmod's substitution for an
// administrator's command line: the shell reads the parameters.
func TestCmdlineOptsRaw(t *testing.T) {
	install, argv := argvRecorder(t)
	lt := newLoadTree(t, withFiles(map[string]string{"conf/i.conf": install}), stackInfo)
	l := lt.open(t, modprobe.Options{})
	ctx := context.Background()
	raw := modprobe.LoadOptions{RawCmdlineOpts: true}
	if err := l.LoadWith(ctx, "p", []string{"a=8${IFS}-a${IFS}x", "b=$(echo sub)", "-v"}, raw); err != nil {
		t.Fatal(err)
	}
	if got, want := argv(), []string{"count=2", "a=8", "-a", "x", "b=sub", "-v"}; !slices.Equal(got, want) {
		t.Errorf("raw: the command got %q, want %q", got, want)
	}
}

// TestCmdlineOptsHandMadeProbe: a probe whose parameters were changed
// after Plan gives the command its whole option string as one word.
func TestCmdlineOptsHandMadeProbe(t *testing.T) {
	install, argv := argvRecorder(t)
	lt := newLoadTree(t, withFiles(map[string]string{"conf/i.conf": install}), stackInfo)
	l := lt.open(t, modprobe.Options{})
	ctx := context.Background()
	plan, err := l.Plan(ctx, "p", []string{"name=v"}, modprobe.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pr := plan.Probes[0]
	pr.Actions = slices.Clone(pr.Actions)
	last := &pr.Actions[len(pr.Actions)-1]
	if last.Kind != modprobe.ActionInstall || last.Params != "count=2 name=v" {
		t.Fatalf("plan: %+v", pr.Actions)
	}
	last.Params = "x=$(id) y"
	if err := l.LoadProbe(ctx, &pr, modprobe.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := argv(), []string{"x=$(id) y"}; !slices.Equal(got, want) {
		t.Errorf("the command got %q, want %q", got, want)
	}
	// Text put before the caller's parameters is no configuration's.
	last.Params = "x=$(id) count=2 name=v"
	if err := l.LoadProbe(ctx, &pr, modprobe.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := argv(), []string{"x=$(id) count=2 name=v"}; !slices.Equal(got, want) {
		t.Errorf("the command got %q, want %q", got, want)
	}
	last.Params = "-a"
	if err := l.LoadProbe(ctx, &pr, modprobe.LoadOptions{}); !errors.Is(err, modprobe.ErrBadParams) {
		t.Errorf("hand-made -a: %v, want ErrBadParams", err)
	}
	// The plan's own probe still splits configuration and caller.
	if err := l.LoadProbe(ctx, &plan.Probes[0], modprobe.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := argv(), []string{"count=2", "name=v"}; !slices.Equal(got, want) {
		t.Errorf("the command got %q, want %q", got, want)
	}
}
