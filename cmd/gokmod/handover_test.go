package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/vmtest"
)

// TestKMMHandOverMissingWorker: without the worker binary beside gokmod,
// gokmod kmm and gokmod worker fail with status 1, naming the path they
// looked for, and nothing else happens.
func TestKMMHandOverMissingWorker(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want := "gokmod: " + filepath.Join(filepath.Dir(self), "worker") + " is not installed: gokmod kmm and gokmod worker run it from gokmod's directory (go build -o DIR/ ./cmd/...)\n"
	_, k := fakeTree(t)
	for _, args := range [][]string{{"gokmod", "kmm", "load", "config.yaml"}, {"gokmod", "worker", "kmod", "load", "config.yaml"}, {"worker", "kmod", "unload", "config.yaml"}} {
		expect(t, runFake(k, args[0], args[1:]...), 1, "", want)
	}
	if len(k.Inserts()) != 0 || len(k.Removes()) != 0 {
		t.Errorf("inserts %v removes %v", k.Inserts(), k.Removes())
	}
}

// TestKMMHandOver: gokmod kmm and gokmod worker, built with the worker
// beside them (go build -o DIR/ ./cmd/gokmod ./cmd/worker), run the
// worker with gokmod's own argv[0], so that its messages are gokmod
// kmm's; a link named worker to gokmod refuses to hand over to itself.
func TestKMMHandOver(t *testing.T) {
	dir := t.TempDir()
	if err := vmtest.BuildTools(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	gokmod := filepath.Join(dir, "gokmod")
	missing := filepath.Join(t.TempDir(), "none.yaml")
	for _, tc := range []struct {
		exe            string
		args           []string
		code           int
		stdout, stderr string
	}{
		{gokmod, []string{"kmm", "load", "x", "--bogus"}, 1, "", gokmod + ": unrecognized option '--bogus'\n"},
		{gokmod, []string{"kmm"}, 1, "", "kmm: missing subcommand (load, unload, pull, sign or preflight). See -h.\n"},
		{gokmod, []string{"worker", "kmod", "load", missing}, 1, "", "kmm: could not read config file " + missing + ": open " + missing + ": no such file or directory\n"},
		{filepath.Join(dir, "worker"), []string{"kmod", "unload", missing}, 1, "", "kmm: could not read config file " + missing + ": open " + missing + ": no such file or directory\n"},
		// gokmod sign is the worker's too (X.509, zstd's writer).
		{gokmod, []string{"sign"}, 2, "", "Usage: gokmod sign [-dpk] <hash algo> <key> <x509> <module> [<dest>]\n       gokmod sign -s <raw sig> <hash algo> <x509> <module> [<dest>]\n"},
		{gokmod, []string{"sign", "sha256", missing, missing, missing}, 1, "", "gokmod sign: open " + missing + ": no such file or directory\n"},
		// So is gokmod preflight (--cert needs X.509).
		{gokmod, []string{"preflight"}, 2, "", "Usage: gokmod preflight -b BASEDIR -k RELEASE [-E Module.symvers] [-F System.map] [--cert FILE]... MODULE|DIR...\n"},
		{gokmod, []string{"preflight", "-b", missing, "-k", "6.1", missing}, 1, "", "gokmod preflight: " + missing + "/lib/modules/6.1: unusable target kernel tree: stat " + missing + "/lib/modules/6.1: no such file or directory\n"},
	} {
		var stdout, stderr strings.Builder
		cmd := exec.Command(tc.exe, tc.args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := cmd.ProcessState.ExitCode()
		if err != nil && code < 0 {
			t.Fatal(err)
		}
		expect(t, outcome{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}, tc.code, tc.stdout, tc.stderr)
	}
	out, err := exec.Command(gokmod, "kmm", "-h").Output()
	if err != nil || !strings.HasPrefix(string(out), "Usage:\n\tgokmod kmm load CONFIG") {
		t.Errorf("gokmod kmm -h: %v\n%s", err, out)
	}
	// gokmod installed as KMM's worker by a link, as before cmd/worker.
	loop := t.TempDir()
	cp, err := os.ReadFile(gokmod)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(loop, "gokmod"), cp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("gokmod", filepath.Join(loop, "worker")); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd := exec.Command(filepath.Join(loop, "worker"), "kmod", "load", missing)
	cmd.Stderr = &stderr
	if err := cmd.Run(); cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Errorf("a link named worker to gokmod: %v", err)
	}
	if want := "gokmod: " + filepath.Join(loop, "worker") + " is gokmod itself, not the worker binary (cmd/worker): install the worker binary there\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}
