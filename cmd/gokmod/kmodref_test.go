package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

// kmodRef is a kmod release gokmod's tools are compared with: the
// machine's kmod 30 (Debian 12's) or Debian 13's kmod 34.2, which
// scripts/setup.sh fetched with its own loader and libraries, and the
// GOKMOD_COMPAT value that makes gokmod follow it.
type kmodRef struct {
	name   string
	compat string
	kmod34 bool
}

var (
	ref30 = kmodRef{name: "kmod 30", compat: "kmod30"}
	ref34 = kmodRef{name: "kmod 34.2", compat: "kmod34", kmod34: true}
)

// path returns where the reference's tool is; the test fails or is
// skipped (outside CI) when it is missing.
func (r kmodRef) path(t testing.TB, tool string) string {
	t.Helper()
	if r.kmod34 {
		return testmod.Kmod34Tool(t, tool)
	}
	return testmod.RequireTool(t, tool)
}

// argv0 is the argv[0] the reference's tool runs with, which glibc's
// getopt prints in its messages: kmod 34.2's wrappers give the bare name.
func (r kmodRef) argv0(t testing.TB, tool string) string {
	t.Helper()
	if r.kmod34 {
		return tool
	}
	return r.path(t, tool)
}

// run runs the reference's tool with args.
func (r kmodRef) run(t testing.TB, tool string, args []string, vars map[string]string) outcome {
	t.Helper()
	path := r.path(t, tool)
	o, err := execKmod(path, args, vars)
	if err != nil {
		t.Fatalf("running %s: %v", path, err)
	}
	return o
}

// env returns vars with GOKMOD_COMPAT set for the reference.
func (r kmodRef) env(vars map[string]string) map[string]string {
	v := maps.Clone(vars)
	if v == nil {
		v = map[string]string{}
	}
	v["GOKMOD_COMPAT"] = r.compat
	return v
}

// ours runs gokmod's tool in-process as the reference's tool runs.
func (r kmodRef) ours(t testing.TB, tool string, args []string, vars map[string]string) outcome {
	t.Helper()
	return runOursAs(r.argv0(t, tool), tool, args, r.env(vars))
}

// compare runs both and reports whether they agree byte for byte; on a
// difference it logs both.
func (r kmodRef) compare(t testing.TB, tool string, args []string, vars map[string]string) bool {
	t.Helper()
	want := r.run(t, tool, args, vars)
	got := r.ours(t, tool, args, vars)
	if want == got {
		return true
	}
	t.Errorf("%s %s (against %s, env %v) differs:\nkmod:   %s\ngokmod: %s", tool, shellQuote(args), r.name, vars, want, got)
	return false
}

// gzView gives each .ko.gz file below the directories dirs a .ko.xz
// sibling holding the same module, so that a kmod built without zlib
// (Debian's 30 and 34 both are), which skips .ko.gz files, reads the
// modules gokmod reads as a kmod built with zlib does. It returns
// restore, which removes the siblings, and fix, which maps their names
// in kmod's output back to .ko.gz. With the view the outputs must agree
// byte for byte: that is the one difference gzip support makes, and the
// only one the tests accept.
func gzView(t *testing.T, dirs ...string) (fix func(string) string, restore func()) {
	t.Helper()
	var made, pairs []string
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || !strings.HasSuffix(p, ".ko.gz") {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				return err
			}
			img, err := io.ReadAll(zr)
			if err != nil {
				return err
			}
			xz, err := testmod.Compress(img, testmod.Xz)
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			sibling := strings.TrimSuffix(p, ".gz") + ".xz"
			if _, err := os.Lstat(sibling); err == nil {
				t.Fatalf("gzView: both %s and %s exist", p, sibling)
			}
			if err := os.WriteFile(sibling, xz, info.Mode().Perm()); err != nil {
				return err
			}
			made = append(made, sibling)
			pairs = append(pairs, filepath.Base(sibling), filepath.Base(p))
			return os.Chtimes(sibling, info.ModTime(), info.ModTime())
		})
		if err != nil {
			t.Fatalf("gzView: %v", err)
		}
	}
	r := strings.NewReplacer(pairs...)
	restore = func() {
		t.Helper()
		for _, p := range made {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	return r.Replace, restore
}

// fixOutcome applies fix to an outcome's streams.
func fixOutcome(o outcome, fix func(string) string) outcome {
	o.Stdout, o.Stderr = fix(o.Stdout), fix(o.Stderr)
	return o
}
