package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/internal/vmtest"
)

// outcome is what one run of a tool shows: its output and exit status.
type outcome struct {
	Stdout, Stderr string
	Code           int
}

func (o outcome) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", o.Code, o.Stdout, o.Stderr)
}

// A kmodRef is a kmod release that differential tests compare gokmod
// with, and how gokmod is made to follow it: the machine's kmod 30
// (Debian 12's), or Debian 13's kmod 34.2, which scripts/setup.sh
// fetched with its own loader and libraries and wrapped in scripts named
// after its tools.
type kmodRef struct {
	name   string // "kmod 30", "kmod 34.2": how messages name it
	compat string // "kmod30", "kmod34": GOKMOD_COMPAT's word, and subtests' name
	kmod34 bool
	// tree returns the root and release of the kernel tree of the
	// release's Debian, indexed by its depmod.
	tree func(testing.TB) (root, release string)
}

// ref30() is the machine's kmod, Debian 12's kmod 30, which gokmod follows
// with GOKMOD_COMPAT=kmod30.
func ref30() kmodRef {
	return kmodRef{name: "kmod 30", compat: "kmod30", tree: testmod.DebianTree}
}

// ref34() is Debian 13's kmod 34.2, which gokmod follows by default: its
// environment has no GOKMOD_COMPAT.
func ref34() kmodRef {
	return kmodRef{name: "kmod 34.2", compat: "kmod34", kmod34: true, tree: testmod.Debian13Tree}
}

// forEachKmod runs f as a subtest, named after GOKMOD_COMPAT's word, for
// kmod 30 and kmod 34.2, once the release's tool is found: the subtest
// fails under CI=true, and is skipped otherwise, when it is missing.
func forEachKmod(t *testing.T, tool string, f func(t *testing.T, ref kmodRef)) {
	for _, ref := range []kmodRef{ref30(), ref34()} {
		t.Run(ref.compat, func(t *testing.T) {
			ref.path(t, tool)
			f(t, ref)
		})
	}
}

// path returns where the release's tool is; the test fails under
// CI=true, and is skipped otherwise, when it is missing.
func (r kmodRef) path(t testing.TB, tool string) string {
	t.Helper()
	if r.kmod34 {
		return testmod.Kmod34Tool(t, tool)
	}
	return testmod.RequireTool(t, tool)
}

// argv0 is the argv[0] gokmod's tool runs with to match the release's,
// which glibc's getopt prints in its messages: kmod 34.2's wrappers give
// the bare name, the machine's tools their path.
func (r kmodRef) argv0(tool string) string {
	if r.kmod34 {
		return tool
	}
	path, err := testmod.FindTool(tool)
	if err != nil {
		return "/sbin/" + tool
	}
	return path
}

// env returns vars with GOKMOD_COMPAT set for the release, unless they
// set it; for kmod 34.2, gokmod's default, vars themselves.
func (r kmodRef) env(vars map[string]string) map[string]string {
	if r.kmod34 {
		return vars
	}
	out := map[string]string{"GOKMOD_COMPAT": r.compat}
	for k, v := range vars {
		out[k] = v
	}
	return out
}

// run runs the release's tool with args and the environment vars on top
// of a minimal one.
func (r kmodRef) run(t testing.TB, tool string, args []string, vars map[string]string) outcome {
	t.Helper()
	path := r.path(t, tool)
	o, err := execAs(path, path, "", args, vars)
	if err != nil {
		t.Fatalf("running %s: %v", path, err)
	}
	return o
}

// ours runs gokmod's tool in-process as the release's tool runs,
// following the release. It takes no testing.TB, so that several can run
// at once.
func (r kmodRef) ours(tool string, args []string, vars map[string]string) outcome {
	return runOursAs(r.argv0(tool), tool, args, r.env(vars))
}

// compare runs the tool both ways and reports whether the outcomes are
// identical byte for byte; on a difference it logs both.
func (r kmodRef) compare(t testing.TB, tool string, args []string, vars map[string]string) bool {
	t.Helper()
	return r.compareNorm(t, tool, args, vars, nil)
}

// compareNorm is compare with norm (if not nil) applied to both outcomes'
// stdout and stderr first.
func (r kmodRef) compareNorm(t testing.TB, tool string, args []string, vars map[string]string, norm func(string) string) bool {
	t.Helper()
	want := r.run(t, tool, args, vars)
	got := r.ours(tool, args, vars)
	if norm != nil {
		want, got = fixOutcome(want, norm), fixOutcome(got, norm)
	}
	if want == got {
		return true
	}
	t.Errorf("%s %s (against %s, env %v) differs:\nkmod:   %s\ngokmod: %s", tool, shellQuote(args), r.name, vars, want, got)
	return false
}

// fixOutcome applies fix to an outcome's streams.
func fixOutcome(o outcome, fix func(string) string) outcome {
	o.Stdout, o.Stderr = fix(o.Stdout), fix(o.Stderr)
	return o
}

// execAs runs the program at path as argv0 with args in the directory
// dir ("" for the test's), with the environment vars on top of a minimal
// one. It takes no testing.TB, so that several can run at once.
func execAs(path, argv0, dir string, args []string, vars map[string]string) (outcome, error) {
	cmd := exec.Command(path, args...)
	cmd.Args[0] = argv0
	cmd.Dir = dir
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

// gokmodTools builds cmd/gokmod and returns a directory of links to it
// named after its tools, so that each runs as that tool: for the tests
// that run gokmod as a separate process, as users run it.
func gokmodTools(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "gokmod")
	if err := vmtest.BuildGokmod(t.Context(), bin); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"depmod", "modinfo", "modprobe", "kmod"} {
		if err := os.Symlink("gokmod", filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runOurs runs gokmod's tool in-process with the environment vars (no
// GOKMOD_COMPAT of its own), invoked under the path of the machine's
// tool of that name (the name getopt's messages print).
func runOurs(tool string, args []string, vars map[string]string) outcome {
	return runOursAs(ref30().argv0(tool), tool, args, vars)
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
		Stdin:  strings.NewReader(""),
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(k string) (string, bool) { v, ok := envVars[k]; return v, ok },
		Setenv: func(k, v string) { envVars[k] = v },
	}
	if filepath.Base(argv0) != tool {
		argv0 = "/sbin/" + tool
	}
	code := run(e, append([]string{argv0}, args...))
	return outcome{Stdout: out.String(), Stderr: errb.String(), Code: code}
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
