package main

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

// outcome is what one run of a tool shows: its output and exit status.
type outcome struct {
	Stdout, Stderr string
	Code           int
}

func (o outcome) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", o.Code, o.Stdout, o.Stderr)
}

// runKmod runs Debian's kmod tool (modprobe, ...) with args and the
// environment vars on top of a minimal one.
func runKmod(t testing.TB, tool string, args []string, vars map[string]string) outcome {
	t.Helper()
	return hostKmod().run(t, tool, args, vars)
}

// execKmod runs kmod's modprobe at path like runKmod, without a
// testing.TB, so that several can run at once.
func execKmod(path string, args []string, vars map[string]string) (outcome, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		return outcome{}, err
	}
	return outcome{Stdout: out.String(), Stderr: errb.String(), Code: code}, nil
}

// runOurs runs gokmod's tool in-process, invoked under the path of the
// host's tool of that name (the name getopt's messages print).
func runOurs(tool string, args []string, vars map[string]string) outcome {
	path, err := testmod.FindTool(tool)
	if err != nil {
		path = "/sbin/" + tool
	}
	return runOursAs(path, tool, args, vars)
}

// runOursAs runs gokmod's tool in-process as argv0 with the environment
// vars.
func runOursAs(argv0, tool string, args []string, vars map[string]string) outcome {
	envVars := map[string]string{}
	for k, v := range vars {
		envVars[k] = v
	}
	var out, errb bytes.Buffer
	e := &env{
		stdin:  strings.NewReader(""),
		stdout: &out,
		stderr: &errb,
		getenv: func(k string) (string, bool) { v, ok := envVars[k]; return v, ok },
		setenv: func(k, v string) { envVars[k] = v },
	}
	if filepath.Base(argv0) != tool {
		argv0 = "/sbin/" + tool
	}
	code := run(e, append([]string{argv0}, args...))
	return outcome{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// pinKmod30 returns vars with GOKMOD_COMPAT=kmod30, unless they set it:
// gokmod then follows the host's kmod, Debian 12's kmod 30, which the
// differential tests against the host's tools compare it with.
func pinKmod30(vars map[string]string) map[string]string {
	out := map[string]string{"GOKMOD_COMPAT": "kmod30"}
	for k, v := range vars {
		out[k] = v
	}
	return out
}

// A kmodBuild is a build of kmod that differential tests compare gokmod
// with, and how gokmod is made to follow it.
type kmodBuild struct {
	name string // "kmod30", "kmod34"
	// tool returns the path of the build's tool name, failing the test
	// under CI=true and skipping it otherwise when it is missing.
	tool func(testing.TB, string) string
	// pin sets gokmod's environment to follow the build.
	pin func(map[string]string) map[string]string
	// argv0 is the name the build's tools are run as; "" for the path of
	// the tool.
	argv0 func(tool string) string
}

// hostKmod is the host's kmod: Debian 12's kmod 30, which gokmod follows
// with GOKMOD_COMPAT=kmod30.
func hostKmod() kmodBuild {
	return kmodBuild{name: "kmod30", tool: testmod.RequireTool, pin: pinKmod30}
}

// debian13Kmod is Debian 13's kmod 34.2, run through the wrapper make
// setup wrote (as its tool name), which gokmod follows by default: its
// environment has no GOKMOD_COMPAT.
func debian13Kmod() kmodBuild {
	return kmodBuild{
		name:  "kmod34",
		tool:  testmod.Kmod34Tool,
		pin:   func(vars map[string]string) map[string]string { return vars },
		argv0: func(tool string) string { return tool },
	}
}

// forEachKmod runs f as a subtest for each kmod build gokmod follows:
// the host's kmod 30 and Debian 13's kmod 34.2 (whose subtest fails under
// CI=true, and is skipped otherwise, when make setup has not fetched it).
func forEachKmod(t *testing.T, f func(t *testing.T, k kmodBuild)) {
	for _, k := range []kmodBuild{hostKmod(), debian13Kmod()} {
		t.Run(k.name, func(t *testing.T) {
			k.tool(t, "modprobe")
			f(t, k)
		})
	}
}

// run runs the build's tool with args and the environment vars on top of
// a minimal one.
func (k kmodBuild) run(t testing.TB, tool string, args []string, vars map[string]string) outcome {
	t.Helper()
	path := k.tool(t, tool)
	o, err := execKmod(path, args, vars)
	if err != nil {
		t.Fatalf("running %s: %v", path, err)
	}
	return o
}

// ours runs gokmod's tool in-process, following the build.
func (k kmodBuild) ours(tool string, args []string, vars map[string]string) outcome {
	if k.argv0 == nil {
		return runOurs(tool, args, k.pin(vars))
	}
	return runOursAs(k.argv0(tool), tool, args, k.pin(vars))
}

// compare runs the tool both ways and reports whether the outcomes are
// identical byte for byte; on a difference it logs both.
func (k kmodBuild) compare(t testing.TB, tool string, args []string, vars map[string]string) bool {
	t.Helper()
	return k.compareNorm(t, tool, args, vars, nil)
}

// compareNorm is compare with norm (if not nil) applied to both outcomes'
// stdout and stderr first.
func (k kmodBuild) compareNorm(t testing.TB, tool string, args []string, vars map[string]string, norm func(string) string) bool {
	t.Helper()
	want := k.run(t, tool, args, vars)
	got := k.ours(tool, args, vars)
	if norm != nil {
		want.Stdout, want.Stderr = norm(want.Stdout), norm(want.Stderr)
		got.Stdout, got.Stderr = norm(got.Stdout), norm(got.Stderr)
	}
	if want == got {
		return true
	}
	t.Errorf("%s %s (env %v) differs:\nkmod:   %s\ngokmod: %s", tool, shellQuote(args), vars, want, got)
	return false
}

// compareTool compares gokmod's tool with the host's kmod, Debian 12's
// kmod 30, with gokmod pinned to it (GOKMOD_COMPAT=kmod30).
func compareTool(t testing.TB, tool string, args []string, vars map[string]string) bool {
	t.Helper()
	return hostKmod().compare(t, tool, args, vars)
}

// versionDiffers reports how gokmod's -V output got differs from kmod's
// want beyond features the kmod build was built without: the first line
// and every feature must be kmod's, except that a feature listed in
// missing may be "-X" in kmod's and "+X" in gokmod's, a build with every
// feature. It returns "" when they agree.
func versionDiffers(want, got string, missing ...string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	if len(wl) != 3 || len(gl) != 3 || wl[0] != gl[0] || wl[2] != "" || gl[2] != "" {
		return fmt.Sprintf("want kmod's two lines %q, got %q", want, got)
	}
	wf, gf := strings.Fields(wl[1]), strings.Fields(gl[1])
	if len(wf) != len(gf) {
		return fmt.Sprintf("features %q, kmod's %q", gl[1], wl[1])
	}
	for i := range wf {
		if wf[i] == gf[i] || (wf[i] == "-"+gf[i][1:] && gf[i] == "+"+wf[i][1:] && slices.Contains(missing, wf[i][1:])) {
			continue
		}
		return fmt.Sprintf("feature %q, kmod's %q (of %q)", gf[i], wf[i], wl[1])
	}
	return ""
}

func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$*?[]#;&|<>()") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			q[i] = a
		}
	}
	return strings.Join(q, " ")
}
