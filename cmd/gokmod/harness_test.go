package main

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
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
	path := testmod.RequireTool(t, tool)
	o, err := execKmod(path, args, vars)
	if err != nil {
		t.Fatalf("running %s: %v", path, err)
	}
	return o
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

// runOurs runs gokmod's tool in-process, invoked under the tool's name.
func runOurs(tool string, args []string, vars map[string]string) outcome {
	path, err := testmod.FindTool(tool)
	if err != nil {
		path = "/sbin/" + tool
	}
	return runOursAs(path, args, vars)
}

// runOursAs runs gokmod in-process with argv[0] argv0, which names the
// tool.
func runOursAs(argv0 string, args []string, vars map[string]string) outcome {
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
	code := run(e, append([]string{argv0}, args...))
	return outcome{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// compareTool runs the tool both ways and reports whether the outcomes are
// identical byte for byte; on a difference it logs both.
func compareTool(t testing.TB, tool string, args []string, vars map[string]string) bool {
	t.Helper()
	want := runKmod(t, tool, args, vars)
	got := runOurs(tool, args, vars)
	if want == got {
		return true
	}
	t.Errorf("%s %s (env %v) differs:\nkmod:   %s\ngokmod: %s", tool, shellQuote(args), vars, want, got)
	return false
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
