package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/testmod"
)

// These tests compare gokmod depmod, following kmod 34, with Debian 13's
// kmod 34.2 on the command line kmod 31-34 changed: -o/--outdir (files
// under OUTDIR/lib/modules/RELEASE), -m/--moduledir, the deprecated
// options kmod 34 no longer takes, paths longer than PATH_MAX, -A with
// -o, and kmod's testsuite cases modules-outdir and another-moddir.

// dmSnapshot lists the files and directories below the directories dirs.
func dmSnapshot(t *testing.T, dirs ...string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			seen[p] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return seen
}

// dmCollect returns the files below dirs that are not in before, by their
// path relative to rel(path) with their contents, and removes them and
// the directories made with them, so that the next run finds the tree as
// it was.
func dmCollect(t *testing.T, before map[string]bool, rel func(string) string, dirs ...string) map[string]string {
	t.Helper()
	files := map[string]string{}
	var made []string
	for p := range dmSnapshot(t, dirs...) {
		if before[p] {
			continue
		}
		made = append(made, p)
		st, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			files[rel(p)] = string(b)
		}
	}
	// Deepest first, so that directories are empty when removed.
	slices.SortFunc(made, func(a, b string) int { return len(b) - len(a) })
	for _, p := range made {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// dm34Case is a depmod command line; "@OUT@" stands for a directory each
// depmod gets for itself (gokmod's is named as kmod's in its messages),
// "@ROOT@" for the tree's root, "@LONG@" for a path longer than PATH_MAX.
type dm34Case []string

// TestDifferentialDepmodKmod34CommandLine compares the command lines.
func TestDifferentialDepmodKmod34CommandLine(t *testing.T) {
	ref34().path(t, "depmod")
	root := dmSmallTree(t)
	moddir := testmod.ModuleDir(root, dmRelease)
	// The same modules under other module directories, for -m: kmod's
	// testsuite's another-moddir has them in /foobar and foobar2.
	for _, d := range []string{"usr/lib/mods", "foobar", "foobar2"} {
		if out, err := copyTree(moddir, filepath.Join(root, d, dmRelease)); err != nil {
			t.Fatalf("copying the tree: %v\n%s", err, out)
		}
	}
	conf := filepath.Join(root, "depmod.d")
	file := filepath.Join(root, "a-file")
	if err := os.WriteFile(file, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Relative paths are relative to a directory of the test's own. The
	// tools are found from the repository, above the working directory.
	t.Setenv("GOKMOD_KMOD34_BIN", filepath.Dir(ref34().path(t, "depmod")))
	// A tree whose module directory is a file.
	fileTree := filepath.Join(root, "file-tree")
	if err := os.MkdirAll(filepath.Join(fileTree, "lib/modules"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fileTree, "lib/modules", dmRelease), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cwd := t.TempDir()
	t.Chdir(cwd)
	long := "/" + strings.Repeat("x", 4100)
	base := []string{"-b", "@ROOT@", "-C", conf}
	with := func(extra ...string) dm34Case {
		return dm34Case(append(append(slices.Clone(base), extra...), dmRelease))
	}
	cases := []dm34Case{
		with("-o", "@OUT@"),
		with("--outdir=@OUT@/new/deeper"),
		with("-o", "@OUT@/"), // kmod's testsuite: modules-outdir, "--outdir /outdir/"
		with("-o", "@OUT@", "-n"),
		with("-o", "@OUT@", "-A"),
		with("-o", "@OUT@", "-A", "-n"),
		with("-o", "@OUT@", "-v"),
		with("-o", "@OUT@", "-vv"),
		with("-o", "/dev/null"),
		with("-o", file),
		with("-o", "relative-out"),
		with("-o", ""),
		with("-m", "/usr/lib/mods"),
		with("-m", "usr/lib/mods"),
		with("--moduledir=//usr/lib/mods/"),
		with("-m", "/foobar"), // kmod's testsuite: another-moddir
		with("-m", "foobar2"), // and another-moddir-relative
		with("-m", "/nonexistent"),
		with("-m", ""),
		with("-m", "/usr/lib/mods", "-o", "@OUT@"),
		with("-m", "/usr/lib/mods", "-n", "-A"),
		dm34Case(append(slices.Clone(base), "-m", "/usr/lib/mods", dmRelease, "@ROOT@/usr/lib/mods/"+dmRelease+"/kernel/a/dm_one.ko")),
		{"-b", long, "-C", conf, dmRelease},
		{"-b", "@ROOT@", "-C", conf, "-o", long, dmRelease},
		{"-b", "@ROOT@", "-C", conf, "-m", long, dmRelease},
		{"-b", long, "-C", conf, "-o", long, "-n", dmRelease},
		{"-b", long, "-C", conf, "-A", dmRelease},
		{"-b", "@ROOT@", "-C", conf, "-o", long, "-A", dmRelease},
		{"-b", long, "-C", conf, "-A", "-n", dmRelease},
		with("-u"), with("-q"), with("-r"), with("--quiet"), with("--root"), with("--map"), with("--unresolved-error"),
		with("--output-dir=@OUT@"), with("--mod=/usr/lib/mods"), with("--out=@OUT@"),
		{"-b", "@ROOT@", "-C", conf, dmRelease, "-m"},
		{"-b", "@ROOT@", "-C", conf, dmRelease, "-o"},
		with("-P", "ab"), with("--symbol-prefix=_", "-n"), with("-x"), with("--s"),
		with("-E", "@ROOT@/missing.symvers"), with("-e", "-F", "@ROOT@/missing.map"),
		{"-b", "@ROOT@", "-C", conf, "abc"},
		{"-b", "@ROOT@", "-C", conf, "1.2"},
		{"-b", "@ROOT@/nonexistent", "-C", conf, dmRelease},
		{"-b", "relative/root", "-C", conf, dmRelease},
		{"-b", "@ROOT@", "-C", conf, dmRelease, "extra/relative.ko"},
		{"-h"}, {"--help"},
	}
	same := 0
	files := 0
	for _, c := range cases {
		ok, n := dm34Compare(t, c, root, cwd)
		files += n
		if ok {
			same++
		}
	}
	// An output directory that is a file: kmod's message shows the errno
	// some earlier call left (ENOENT here, from a file it did not find),
	// gokmod the reason.
	o := ref34().ours("depmod", []string{"-b", root, "-C", conf, "-o", fileTree, dmRelease}, nil)
	if want := "depmod: FATAL: could not create directory " + fileTree + "/lib/modules/" + dmRelease + ": Not a directory\n"; o.Code != 1 || o.Stderr != want {
		t.Errorf("depmod -o %s: %s\nwant exit 1 and %q", fileTree, o, want)
	}
	// -V: kmod's first line, which scripts parse, then gokmod's features.
	for _, opt := range []string{"-V", "--version"} {
		want := ref34().run(t, "depmod", []string{opt}, nil)
		got := ref34().ours("depmod", []string{opt}, nil)
		first, _, _ := strings.Cut(want.Stdout, "\n")
		if got.Code != want.Code || got.Stderr != want.Stderr || got.Stdout != versionText(modprobe.CompatLatest) || !strings.HasPrefix(got.Stdout, first+"\n") {
			t.Errorf("depmod %s:\nkmod:   %s\ngokmod: %s", opt, want, got)
			continue
		}
		same++
	}
	t.Logf("depmod against kmod 34.2: %d/%d command lines identical (-V: as far as it must be), %d files written and compared", same, len(cases)+2, files)
}

// copyTree copies the directory src to dst, which it creates.
func copyTree(src, dst string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nil, err
	}
	return exec.Command("cp", "-a", src, dst).CombinedOutput()
}

// dm34Compare runs depmod with args (see dm34Case) with kmod 34.2 and
// gokmod, and compares their outcomes and the files each wrote below
// dirs and its @OUT@ directory. It returns whether all agree and how many
// files were compared.
func dm34Compare(t *testing.T, c dm34Case, dirs ...string) (bool, int) {
	t.Helper()
	root := dirs[0]
	kout, gout := t.TempDir(), t.TempDir()
	long := "/" + strings.Repeat("x", 4100)
	args := func(out string) []string {
		r := strings.NewReplacer("@OUT@", out, "@ROOT@", root, "@LONG@", long)
		a := make([]string, len(c))
		for i, s := range c {
			a[i] = r.Replace(s)
		}
		return a
	}
	label := "depmod " + shellQuote(args(kout))
	before := dmSnapshot(t, append(dirs, kout, gout)...)
	relTo := func(out string) func(string) string {
		return func(p string) string {
			if r, ok := strings.CutPrefix(p, out); ok {
				return "@OUT@" + r
			}
			return p
		}
	}
	got := dmMask(ref34().ours("depmod", args(gout), nil))
	got.Stdout = strings.ReplaceAll(got.Stdout, gout, kout)
	got.Stderr = strings.ReplaceAll(got.Stderr, gout, kout)
	ourFiles := dmCollect(t, before, relTo(gout), append(dirs, gout)...)
	want := dmMask(ref34().run(t, "depmod", args(kout), nil))
	kmodFiles := dmCollect(t, before, relTo(kout), append(dirs, kout)...)
	ok := true
	if got != want {
		ok = false
		t.Errorf("%s:\nkmod:   %s\ngokmod: %s", label, want, got)
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range kmodFiles {
			if !yield(n) {
				return
			}
		}
	})
	ourNames := slices.Sorted(func(yield func(string) bool) {
		for n := range ourFiles {
			if !yield(n) {
				return
			}
		}
	})
	if !slices.Equal(names, ourNames) {
		ok = false
		t.Errorf("%s: kmod wrote %q, gokmod %q", label, names, ourNames)
	}
	for _, n := range names {
		if g, found := ourFiles[n]; found && !bytes.Equal([]byte(g), []byte(kmodFiles[n])) {
			ok = false
			t.Errorf("%s: %s differs: %s", label, n, firstDiff(kmodFiles[n], g))
		}
	}
	return ok, len(names)
}

// TestDifferentialDepmodRemovedCwd compares relative -b and -o when the
// working directory has been removed, so that they cannot be made
// absolute: kmod 34 refuses them, kmod 30 goes on without -b.
func TestDifferentialDepmodRemovedCwd(t *testing.T) {
	root := dmSmallTree(t)
	conf := filepath.Join(root, "depmod.d")
	forEachKmod(t, "depmod", func(t *testing.T, ref kmodRef) {
		t.Setenv("GOKMOD_KMOD34_BIN", filepath.Dir(ref34().path(t, "depmod")))
		gone := filepath.Join(t.TempDir(), "gone")
		if err := os.Mkdir(gone, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Chdir(gone)
		if err := os.Remove(gone); err != nil {
			t.Fatal(err)
		}
		cases := [][]string{{"-b", "rel", "-C", conf, dmRelease}, {"-b", root, "-C", conf, "-n", "-o", "rel", dmRelease}}
		if !ref.kmod34 {
			cases = cases[:1]
		}
		for _, args := range cases {
			want := ref.run(t, "depmod", args, nil)
			// The shell of kmod 34.2's wrapper says it has no
			// working directory; kmod does not.
			want.Stderr = strings.TrimPrefix(want.Stderr, "sh: 0: getcwd() failed: No such file or directory\n")
			got := ref.ours("depmod", args, nil)
			if want != got || want.Code != 1 {
				t.Errorf("depmod %s in a removed directory:\nkmod:   %s\ngokmod: %s", shellQuote(args), want, got)
			}
		}
	})
}
