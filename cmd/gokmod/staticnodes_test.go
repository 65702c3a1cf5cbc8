package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runStaticNodesIn runs kmod static-nodes in-process on modulesDir (in
// place of /lib/modules), whose RELEASE directory is the running
// kernel's, and returns its outcome.
func runStaticNodesIn(t *testing.T, modulesDir string, args ...string) outcome {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(string) (string, bool) { return "", false },
		Setenv: func(string, string) {},
	}
	code := staticNodes(e, "static-nodes", args, modulesDir)
	return outcome{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// releaseDir makes modulesDir/RELEASE for the running kernel.
func releaseDir(t *testing.T, modulesDir string) string {
	t.Helper()
	e := &env{}
	rel, err := releaseOf(e)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(modulesDir, rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestStaticNodesFormats checks the three formats on a small
// modules.devname, with the lines kmod rejects reported and skipped.
func TestStaticNodesFormats(t *testing.T) {
	mods := t.TempDir()
	dir := releaseDir(t, mods)
	devname := "# comment\nfuse fuse c10:229\ndm_mod mapper/control c10:236\nbad line\nnbd nbd0 b43:0"
	if err := os.WriteFile(filepath.Join(dir, "modules.devname"), []byte(devname), 0o644); err != nil {
		t.Fatal(err)
	}
	const errs = "Error: invalid devname entry: bad line\n"
	for format, want := range map[string]string{
		"devname":  "fuse fuse c10:229\ndm_mod mapper/control c10:236\nnbd nbd0 b43:0\n",
		"tmpfiles": "c! /dev/fuse 0600 - - - 10:229\nd /dev/mapper 0755 - - -\nc! /dev/mapper/control 0600 - - - 10:236\nb! /dev/nbd0 0600 - - - 43:0\n",
		"human": "Module: fuse\n\tDevice node: /dev/fuse\n\t\tType: character device\n\t\tMajor: 10\n\t\tMinor: 229\n" +
			"Module: dm_mod\n\tDevice node: /dev/mapper/control\n\t\tType: character device\n\t\tMajor: 10\n\t\tMinor: 236\n" +
			"Module: nbd\n\tDevice node: /dev/nbd0\n\t\tType: block device\n\t\tMajor: 43\n\t\tMinor: 0\n",
	} {
		o := runStaticNodesIn(t, mods, "--format="+format)
		if o.Code != 1 || o.Stdout != want || o.Stderr != errs {
			t.Errorf("--format=%s: %s\nwant exit 1, stdout %q", format, o, want)
		}
	}
	// To a file, its directories made.
	out := filepath.Join(t.TempDir(), "run/tmpfiles.d/static-nodes.conf")
	o := runStaticNodesIn(t, mods, "-f", "devname", "-o", out)
	data, err := os.ReadFile(out)
	if o.Code != 1 || o.Stdout != "" || err != nil || !strings.HasPrefix(string(data), "fuse fuse c10:229\n") {
		t.Errorf("-o: %s, file %q, %v", o, data, err)
	}
}

// TestStaticNodesNoHang checks that a FIFO as modules.devname or as the
// output is an error at once, where kmod would wait for a writer or a
// reader forever.
func TestStaticNodesNoHang(t *testing.T) {
	mods := t.TempDir()
	dir := releaseDir(t, mods)
	fifo := filepath.Join(dir, "modules.devname")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.fifo")
	if err := syscall.Mkfifo(out, 0o644); err != nil {
		t.Fatal(err)
	}
	mods2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(releaseDir(t, mods2), "modules.devname"), []byte("fuse fuse c10:229\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mods string
		args []string
		want string
	}{
		{mods, nil, "Error: could not open " + fifo + " - Invalid argument\n"},
		{mods2, []string{"-o", out}, "Error: could not create " + out + " - No such device or address\n"},
	} {
		done := make(chan outcome, 1)
		go func() { done <- runStaticNodesIn(t, c.mods, c.args...) }()
		select {
		case o := <-done:
			if o.Code != 1 || o.Stderr != c.want {
				t.Errorf("static-nodes %q: %s\nwant exit 1 and %q", c.args, o, c.want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("static-nodes %q did not return within 20 s", c.args)
		}
	}
}

// FuzzDevnameLine checks the modules.devname line parser: it never
// panics, and a line it accepts, written back in the devname format, is
// read back the same.
func FuzzDevnameLine(f *testing.F) {
	for _, s := range []string{"fuse fuse c10:229\n", "\tloop loop-control\tc 10:237", "x y b1:-2 tail", "a b x1:1", "a b c1 :1", "", "a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		n, ok := parseDevnameLine(line)
		if !ok {
			return
		}
		if n.module == "" || n.devname == "" || (n.typ != 'c' && n.typ != 'b') {
			t.Fatalf("%q: accepted as %+v", line, n)
		}
		var b bytes.Buffer
		for _, f := range staticNodesFormats() {
			if f.name == "devname" {
				f.write(&b, n)
			}
		}
		again, ok := parseDevnameLine(b.String())
		if !ok || again != n {
			t.Fatalf("%q: %+v written as %q reads back as %+v, %v", line, n, b.String(), again, ok)
		}
	})
}
