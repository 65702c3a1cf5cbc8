package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gokmod/modprobe/internal/cli"
	"github.com/gokmod/modprobe/modprobetest"
)

// outcome is what one run of the worker shows: its output and exit
// status.
type outcome struct {
	Stdout, Stderr string
	Code           int
}

func (o outcome) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", o.Code, o.Stdout, o.Stderr)
}

const fakeRelease = "6.1.0-fake"

// hostTree writes the host's module tree of fakeRelease (in-tree a, and b
// needing a) with its modules.dep, and a fake kernel running that release.
func hostTree(t *testing.T) (root string, k *modprobetest.Kernel) {
	t.Helper()
	root = t.TempDir()
	_, err := modprobetest.WriteTree(root, fakeRelease,
		modprobetest.Module{Name: "a"},
		modprobetest.Module{Name: "b", Depends: []string{"a"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	k = modprobetest.NewKernel(t)
	if err := k.SetRelease(fakeRelease); err != nil {
		t.Fatal(err)
	}
	return root, k
}

// runFake runs argv[0] = /sbin/NAME with args on the fake kernel: NAME
// gokmod with "kmm ..." (what gokmod hands over), worker with "kmod
// load ..." (KMM's pod), or kmm.
func runFake(k *modprobetest.Kernel, name string, args ...string) outcome {
	return runFakeCtx(context.Background(), k, append([]string{"/sbin/" + name}, args...))
}

// runFakeCtx runs argv on the fake kernel with ctx as the context a
// signal would cancel, failing if it has not returned within 20 s (a
// wait on a FIFO).
func runFakeCtx(ctx context.Context, k *modprobetest.Kernel, argv []string) outcome {
	var out, errb bytes.Buffer
	e := &env{
		Stdin:  strings.NewReader(""),
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(string) (string, bool) { return "", false },
		Setenv: func(string, string) {},
		Kernel: &cli.FakeKernel{Kernel: k, Sysfs: k.SysfsDir(), Proc: k.ProcDir(), KmsgPath: k.KmsgPath()},
		Ctx:    ctx,
	}
	done := make(chan int, 1)
	go func() { done <- run(e, argv) }()
	select {
	case code := <-done:
		return outcome{Stdout: out.String(), Stderr: errb.String(), Code: code}
	case <-time.After(20 * time.Second):
		return outcome{Stderr: fmt.Sprintf("%q has not returned after 20 s: it waits on its input", argv), Code: -1}
	}
}

func expect(t *testing.T, got outcome, code int, stdout, stderr string) {
	t.Helper()
	want := outcome{Stdout: stdout, Stderr: stderr, Code: code}
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// live is the fake kernel's live modules, sorted.
func live(k *modprobetest.Kernel) []string {
	l := k.Loaded()
	slices.Sort(l)
	return l
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
