package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/modname"
	"github.com/gokmod/modprobe/internal/testmod"
)

// These tests compare gokmod modprobe with Debian 12's kmod 30 modprobe
// (the host's; gokmod runs with GOKMOD_COMPAT=kmod30) on the module tree
// of Debian 12's current linux-image-amd64 package, indexed by kmod's
// depmod (scripts/setup.sh prepares it): --show-depends for every module,
// --resolve-alias for every alias pattern made concrete, and
// --showconfig; then the same with the .bin indexes removed, so that
// gokmod reads the text files, against kmod with the indexes present.
// diff_debian13_test.go does the same for Debian 13 and kmod 34.2.

// A separator name is looked up between the names of a batch; the
// configuration in sepConfig makes both programs print a line for it that
// splits the output into one segment per name: an install command for -D,
// an alias for -R.
const (
	sepD = "gokmod-sep-d"
	sepR = "gokmod-sep-r"
)

const sepConfig = "install gokmod_sep_d /bin/true\nalias gokmod_sep_r gokmod_separator_target\n"

// separator returns the separator name for a mode.
func separator(mode []string) string {
	if mode[0] == "-R" {
		return sepR
	}
	return sepD
}

// debianConfig returns -C options for a separator file and the system's
// configuration directories as the kmod release k reads them by default.
func debianConfig(t *testing.T, k kmodRef) []string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "00-gokmod-separator.conf"), []byte(sepConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-C", dir}
	dirs := []string{"/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/lib/modprobe.d"}
	if k.kmod34 { // kmod 32 added /usr/lib/modprobe.d
		dirs = slices.Insert(dirs, 3, "/usr/lib/modprobe.d")
	}
	for _, d := range dirs {
		args = append(args, "-C", d)
	}
	return args
}

// treeSetup returns k's tree, its module directory and the modprobe
// options that select it with debianConfig's configuration: the
// separators' and k's default configuration directories.
func treeSetup(t *testing.T, k kmodRef) (root, release, moddir string, base []string) {
	k.path(t, "modprobe")
	root, release = k.tree(t)
	moddir = testmod.ModuleDir(root, release)
	base = append([]string{"-d", root, "-S", release}, debianConfig(t, k)...)
	return root, release, moddir, base
}

// debianModules returns the module names of the tree, in modules.dep order.
func debianModules(t *testing.T, moddir string) []string {
	f, err := os.Open(filepath.Join(moddir, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		path, _, _ := strings.Cut(sc.Text(), ":")
		names = append(names, modname.FromPath(path))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// debianAliases returns every alias pattern of modules.alias made
// concrete two ways: strings the pattern matches, with each '*' standing
// for "0" and for nothing.
func debianAliases(t *testing.T, moddir string) []string {
	data, err := os.ReadFile(filepath.Join(moddir, "modules.alias"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "alias ")
		if !ok {
			continue
		}
		i := strings.LastIndexByte(rest, ' ')
		if i < 0 {
			continue
		}
		c := concrete(rest[:i])
		out = append(out, c)
		if e := concrete(strings.ReplaceAll(rest[:i], "*", "")); e != c {
			out = append(out, e)
		}
	}
	return out
}

// concrete turns an fnmatch pattern into a string it matches: '*' becomes
// "0", '?' becomes "x", a bracket expression its first member (or '~' when
// negated), and a backslash escape the escaped byte.
func concrete(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*':
			b.WriteByte('0')
		case '?':
			b.WriteByte('x')
		case '\\':
			if i+1 < len(p) {
				i++
				b.WriteByte(p[i])
			}
		case '[':
			end := strings.IndexByte(p[i+1:], ']')
			if end < 0 {
				b.WriteByte(c)
				continue
			}
			set := p[i+1 : i+1+end]
			if end == 0 && i+2 < len(p) { // "[]...]": ']' is a member
				if e2 := strings.IndexByte(p[i+2:], ']'); e2 >= 0 {
					set, end = p[i+1:i+2+e2], e2+1
				}
			}
			switch {
			case strings.HasPrefix(set, "!") || strings.HasPrefix(set, "^"):
				b.WriteByte('~')
			case set != "":
				b.WriteByte(set[0])
			}
			i += end + 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// segments splits output into the parts before, between and after the
// separator's lines.
func segments(out, sep string) []string {
	return strings.Split(out, sep)
}

// compareBatches runs the kmod release's modprobe with kmodBase and gokmod's
// (following that build) with ourBase, both with mode, over names in
// batches with a separator between names, and counts the names whose
// output segments are identical. fix rewrites gokmod's output before the
// comparison.
func compareBatches(t *testing.T, k kmodRef, kmodBase, ourBase, mode, names []string, sepLine string, fix func(string) string) (same, total int) {
	const batch = 400
	if fix == nil {
		fix = func(s string) string { return s }
	}
	for start := 0; start < len(names); start += batch {
		chunk := names[start:min(start+batch, len(names))]
		args := func(base []string) []string {
			a := append(append(append([]string{}, base...), mode...), "-a", separator(mode))
			for _, n := range chunk {
				a = append(a, n, separator(mode))
			}
			return a
		}
		want := k.run(t, "modprobe", args(kmodBase), nil)
		got := k.ours("modprobe", args(ourBase), nil)
		ws, gs := segments(want.Stdout, sepLine), segments(fix(got.Stdout), sepLine)
		if len(ws) != len(chunk)+2 || len(gs) != len(ws) {
			t.Errorf("%v batch at %d: %d kmod segments, %d gokmod segments, want %d", mode, start, len(ws), len(gs), len(chunk)+2)
			total += len(chunk)
			continue
		}
		bad := 0
		for i, n := range chunk {
			total++
			if ws[i+1] == gs[i+1] {
				same++
				continue
			}
			if bad++; bad <= 5 {
				t.Errorf("%s %s differs:\nkmod:\n%s\ngokmod:\n%s", strings.Join(mode, " "), n, ws[i+1], gs[i+1])
			}
		}
		// libkmod prints its context's address, which no two runs share.
		if ws, gs := maskPointer(want.Stderr), maskPointer(fix(got.Stderr)); ws != gs || want.Code != got.Code {
			t.Errorf("%v batch at %d: stderr or exit status differ:\nkmod: %d %q\ngokmod: %d %q", mode, start, want.Code, trim(ws), got.Code, trim(gs))
		}
	}
	return same, total
}

func trim(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}

func TestDifferentialDebianShowDepends(t *testing.T) {
	compareTreeModules(t, ref30())
}

func TestDifferentialDebianResolveAlias(t *testing.T) {
	compareTreeAliases(t, ref30())
}

// compareTreeModules compares modprobe -D of every module of k's tree
// with k's and logs the count.
func compareTreeModules(t *testing.T, k kmodRef) {
	_, _, moddir, base := treeSetup(t, k)
	compareTreeNames(t, k, base, "-D", debianModules(t, moddir), "modules", 4000)
}

// compareTreeAliases compares modprobe -R of every alias of k's tree made
// concrete with k's and logs the count.
func compareTreeAliases(t *testing.T, k kmodRef) {
	_, _, moddir, base := treeSetup(t, k)
	compareTreeNames(t, k, base, "-R", debianAliases(t, moddir), "concrete aliases", 20000)
}

// compareTreeNames compares modprobe mode for each of names, at least
// least of them, and logs the count of what.
func compareTreeNames(t *testing.T, k kmodRef, base []string, mode string, names []string, what string, least int) {
	sepLine := "install /bin/true \n"
	if mode == "-R" {
		sepLine = "gokmod_separator_target\n"
	}
	same, total := compareBatches(t, k, base, base, []string{mode}, names, sepLine, nil)
	t.Logf("%s, modprobe %s: %d %s: %d identical", k.compat, mode, total, what, same)
	if total != len(names) || total < least {
		t.Errorf("compared %d of the tree's %d %s", total, len(names), what)
	}
}

func TestDifferentialDebianShowConfig(t *testing.T) {
	_, _, _, base := treeSetup(t, ref30())
	for _, args := range [][]string{append(append([]string{}, base...), "-c"), {"-d", base[1], "-S", base[3], "-c"}} {
		if !ref30().compare(t, "modprobe", args, nil) {
			continue
		}
		t.Logf("modprobe %s: identical", shellQuote(args))
	}
}

// textTree makes a copy of the module tree that shares the module files
// (hard links) but has no .bin indexes.
func textTree(t *testing.T, root, release string) string {
	copyRoot := t.TempDir()
	src := filepath.Join(root, "lib")
	if out, err := exec.Command("cp", "-al", src, copyRoot).CombinedOutput(); err != nil {
		t.Fatalf("cp -al: %v\n%s", err, out)
	}
	bins, err := filepath.Glob(filepath.Join(testmod.ModuleDir(copyRoot, release), "*.bin"))
	if err != nil || len(bins) == 0 {
		t.Fatalf("no .bin files in the copy (%v)", err)
	}
	for _, b := range bins {
		if err := os.Remove(b); err != nil {
			t.Fatal(err)
		}
	}
	return copyRoot
}

func TestDifferentialDebianTextFallback(t *testing.T) {
	root, release, moddir, base := treeSetup(t, ref30())
	copyRoot := textTree(t, root, release)
	textBase := append([]string{"-d", copyRoot}, base[2:]...)
	fix := func(s string) string { return strings.ReplaceAll(s, copyRoot, root) }

	s, n := compareBatches(t, ref30(), base, textBase, []string{"-D"}, debianModules(t, moddir), "install /bin/true \n", fix)
	t.Logf("text indexes, modprobe -D: %d/%d modules identical", s, n)
	s, n = compareBatches(t, ref30(), base, textBase, []string{"-R"}, debianAliases(t, moddir), "gokmod_separator_target\n", fix)
	t.Logf("text indexes, modprobe -R: %d/%d concrete aliases identical", s, n)

	want := ref30().run(t, "modprobe", append(append([]string{}, base...), "-c"), nil)
	got := ref30().ours("modprobe", append(append([]string{}, textBase...), "-c"), nil)
	if want != got {
		t.Errorf("modprobe -c with text indexes differs (%d vs %d bytes of stdout)", len(want.Stdout), len(got.Stdout))
	} else {
		t.Logf("text indexes, modprobe -c: identical (%d lines)", strings.Count(want.Stdout, "\n"))
	}
}
