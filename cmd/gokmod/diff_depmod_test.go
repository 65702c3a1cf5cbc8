package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/modprobe/internal/index"
	"github.com/gokmod/modprobe/internal/modname"
	"github.com/gokmod/modprobe/internal/testmod"
)

// These tests compare gokmod depmod with Debian's kmod 30 depmod: on the
// module tree of Debian's linux-image-amd64 package (here) and on
// synthetic trees (depmod_trees_test.go). Both programs run with the same
// arguments; their stdout, stderr and exit status must be identical, the
// text files they write byte for byte, and the .bin indexes in content:
// the same keys and values in a dump by internal/index, and the same
// answers from kmod's own modprobe -D and -R when it reads gokmod's
// indexes instead of kmod's. (gokmod writes kmod 34's node layout, kmod 30
// another one, so the .bin bytes may differ.)

// depmodOutputs are the files kmod 30's depmod writes, in its order.
var depmodOutputs = []string{
	"modules.dep", "modules.dep.bin", "modules.alias", "modules.alias.bin",
	"modules.softdep", "modules.symbols", "modules.symbols.bin",
	"modules.builtin.bin", "modules.builtin.alias.bin", "modules.devname",
}

// isDepmodOutput reports whether name is a file that some depmod writes
// into the module directory (kmod 33 added modules.weakdep).
func isDepmodOutput(name string) bool {
	return slices.Contains(depmodOutputs, name) || name == "modules.weakdep"
}

// dmEntries returns the names in dir; none when dir is missing.
func dmEntries(t *testing.T, dir string) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, e := range ents {
		names[e.Name()] = true
	}
	return names
}

// dmTakeNew moves the entries of dir that are not in before to a new
// temporary directory and returns it with their names, sorted: the files
// one depmod run wrote, out of the way of the next run.
func dmTakeNew(t *testing.T, dir string, before map[string]bool) (string, []string) {
	t.Helper()
	out := t.TempDir()
	var names []string
	for name := range dmEntries(t, dir) {
		if before[name] {
			continue
		}
		if err := os.Rename(filepath.Join(dir, name), filepath.Join(out, name)); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return out, names
}

// dmMirror makes base/lib/modules/release a directory of symbolic links:
// to every entry of the module directory src except depmod's outputs, and
// to every file of the directories extra. It returns the new module
// directory. kmod's depmod follows the links (they show up as DT_LNK and
// it stats them) and writes its files next to them.
func dmMirror(t *testing.T, base, release, src string, extra ...string) string {
	t.Helper()
	dir := testmod.ModuleDir(base, release)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	link := func(from, name string) {
		if err := os.Symlink(filepath.Join(from, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	for name := range dmEntries(t, src) {
		if !isDepmodOutput(name) {
			link(src, name)
		}
	}
	for _, x := range extra {
		for name := range dmEntries(t, x) {
			link(x, name)
		}
	}
	return dir
}

// dmCounts counts compared output files.
type dmCounts struct {
	text, textSame int // text files: byte for byte
	bin, binSame   int // .bin indexes: by dump
}

func (c *dmCounts) add(o dmCounts) {
	c.text += o.text
	c.textSame += o.textSame
	c.bin += o.bin
	c.binSame += o.binSame
}

func (c dmCounts) String() string {
	return fmt.Sprintf("%d/%d text files identical, %d/%d .bin indexes with identical content", c.textSame, c.text, c.binSame, c.bin)
}

// firstDiff describes where b first differs from a, line by line.
func firstDiff(a, b string) string {
	al, bl := strings.SplitAfter(a, "\n"), strings.SplitAfter(b, "\n")
	i := 0
	for i < len(al) && i < len(bl) && al[i] == bl[i] {
		i++
	}
	line := func(l []string) string {
		if i < len(l) {
			return fmt.Sprintf("%q", l[i])
		}
		return "(end of file)"
	}
	return fmt.Sprintf("%d vs %d lines; first difference at line %d:\n  kmod:   %s\n  gokmod: %s",
		strings.Count(a, "\n"), strings.Count(b, "\n"), i+1, line(al), line(bl))
}

// dmDump returns every key and value of the index file at path, one
// "key value" line each, in internal/index's dump order.
func dmDump(path string) (string, error) {
	x, err := index.Open(path)
	if err != nil {
		return "", err
	}
	defer x.Close()
	var b strings.Builder
	if err := x.Dump(&b, ""); err != nil {
		return "", err
	}
	return b.String(), nil
}

// dmCompareFiles compares the files kmod's depmod wrote (kmodFiles in
// kmodDir) with gokmod's (ourFiles in ourDir): the same names, the text
// files byte for byte and the indexes by dump.
func dmCompareFiles(t *testing.T, label, kmodDir string, kmodFiles []string, ourDir string, ourFiles []string) dmCounts {
	t.Helper()
	return dmCompareFixed(t, label, kmodDir, kmodFiles, ourDir, ourFiles, nil)
}

// dmCompareFixed is dmCompareFiles with fix applied to kmod's text files
// and index dumps first (see gzView); nil is no change.
func dmCompareFixed(t *testing.T, label, kmodDir string, kmodFiles []string, ourDir string, ourFiles []string, fix func(string) string) dmCounts {
	t.Helper()
	if fix == nil {
		fix = func(s string) string { return s }
	}
	if !slices.Equal(kmodFiles, ourFiles) {
		t.Errorf("%s: kmod wrote %q, gokmod %q", label, kmodFiles, ourFiles)
	}
	var c dmCounts
	for _, name := range kmodFiles {
		if !slices.Contains(ourFiles, name) {
			if strings.HasSuffix(name, ".bin") {
				c.bin++
			} else {
				c.text++
			}
			continue
		}
		kp, op := filepath.Join(kmodDir, name), filepath.Join(ourDir, name)
		if strings.HasSuffix(name, ".bin") {
			c.bin++
			want, err := dmDump(kp)
			if err != nil {
				// Not an index: kmod leaves modules.builtin.bin empty
				// when modules.builtin is missing. Then the bytes count.
				a, err1 := os.ReadFile(kp)
				b, err2 := os.ReadFile(op)
				if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
					t.Errorf("%s: kmod's %s is no index (%v) and gokmod's differs: %d vs %d bytes (%v)", label, name, err, len(a), len(b), err2)
					continue
				}
				c.binSame++
				continue
			}
			want = fix(want)
			got, err := dmDump(op)
			switch {
			case err != nil:
				t.Errorf("%s: gokmod's %s: %v", label, name, err)
			case got != want:
				t.Errorf("%s: %s: dumps differ: %s", label, name, firstDiff(want, got))
			default:
				c.binSame++
			}
			continue
		}
		c.text++
		want, err := os.ReadFile(kp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(op)
		if err != nil {
			t.Fatal(err)
		}
		want = []byte(fix(string(want)))
		if !bytes.Equal(want, got) {
			t.Errorf("%s: %s differs: %s", label, name, firstDiff(string(want), string(got)))
			continue
		}
		c.textSame++
	}
	return c
}

// dmQuery is a modprobe mode ("-D" or "-R") with the names to look up.
type dmQuery struct {
	mode  string
	names []string
}

// dmModprobe runs kmod's modprobe on two trees of the same release, one
// indexed by kmod's depmod (kmodRoot) and one by gokmod's (ourRoot), with
// q.mode for each of q.names, and counts the names with identical
// answers: stdout, stderr and exit status, ourRoot read as kmodRoot. The
// names go batch at a time through one modprobe -a, separated by a name
// whose output splits it (see sepConfig); a batch whose stderr or exit
// status differs is run again name by name to find the culprits. The
// configuration holds only the separators, so that the host's
// modprobe.d does not matter.
func dmModprobe(t *testing.T, kmodRoot, ourRoot, release string, q dmQuery, batch int) (same, total int) {
	t.Helper()
	return dmModprobeRef(t, ref30(), nil, kmodRoot, ourRoot, release, q, batch)
}

// dmModprobeRef is dmModprobe with the modprobe of ref, and fix (see
// gzView) applied to the answers from kmod's indexes; nil is no change.
func dmModprobeRef(t *testing.T, ref kmodRef, fix func(string) string, kmodRoot, ourRoot, release string, q dmQuery, batch int) (same, total int) {
	t.Helper()
	if fix == nil {
		fix = func(s string) string { return s }
	}
	path := ref.path(t, "modprobe")
	conf := t.TempDir()
	if err := os.WriteFile(filepath.Join(conf, "separators.conf"), []byte(sepConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	sep := separator([]string{q.mode})
	sepLine := "install /bin/true \n"
	if q.mode == "-R" {
		sepLine = "gokmod_separator_target\n"
	}
	run := func(root string, names ...string) (outcome, error) {
		args := []string{"-d", root, "-S", release, "-C", conf, q.mode}
		if len(names) > 1 {
			args = append(args, "-a", sep)
			for _, n := range names {
				args = append(args, n, sep)
			}
		} else {
			args = append(args, names...)
		}
		o, err := execAs(path, path, "", args, nil)
		o.Stdout = strings.ReplaceAll(o.Stdout, ourRoot, kmodRoot)
		o.Stderr = strings.ReplaceAll(o.Stderr, ourRoot, kmodRoot)
		if root == kmodRoot {
			o = fixOutcome(o, fix)
		}
		return o, err
	}
	// A batch that differs as a whole is run again name by name, up to
	// maxReruns names in all.
	const maxReruns = 2000
	var reruns atomic.Int64
	// compare returns a description of each name that differs (an empty
	// one for a name already described).
	var compare func(names []string) ([]string, error)
	compare = func(names []string) (diffs []string, err error) {
		want, err := run(kmodRoot, names...)
		if err != nil {
			return nil, err
		}
		got, err := run(ourRoot, names...)
		if err != nil {
			return nil, err
		}
		if len(names) == 1 {
			if want != got {
				diffs = append(diffs, fmt.Sprintf("modprobe %s %s differs:\nkmod's indexes:   %s\ngokmod's indexes: %s", q.mode, names[0], want, got))
			}
			return diffs, nil
		}
		ws, gs := segments(want.Stdout, sepLine), segments(got.Stdout, sepLine)
		if len(ws) != len(names)+2 {
			return nil, fmt.Errorf("modprobe %s batch of %d names (%q...): %d segments with kmod's indexes, want %d", q.mode, len(names), names[0], len(ws), len(names)+2)
		}
		if len(gs) != len(ws) || want.Stderr != got.Stderr || want.Code != got.Code {
			if reruns.Add(int64(len(names))) > maxReruns {
				// Too many differences to pin down in reasonable time:
				// the whole batch counts as different.
				diffs = make([]string, len(names))
				diffs[0] = fmt.Sprintf("modprobe %s batch of %d names (%q...) differs:\nkmod's indexes:   %s\ngokmod's indexes: %s", q.mode, len(names), names[0], want, got)
				return diffs, nil
			}
			// find the names one at a time
			for _, n := range names {
				d, err := compare([]string{n})
				if err != nil {
					return nil, err
				}
				diffs = append(diffs, d...)
			}
			if len(diffs) == 0 {
				diffs = append(diffs, fmt.Sprintf("modprobe %s batch of %d names (%q...): output differs as a whole but not name by name:\nkmod's indexes:   %s\ngokmod's indexes: %s", q.mode, len(names), names[0], want, got))
			}
			return diffs, nil
		}
		for i, n := range names {
			if ws[i+1] != gs[i+1] {
				diffs = append(diffs, fmt.Sprintf("modprobe %s %s differs:\nkmod's indexes:\n%sgokmod's indexes:\n%s", q.mode, n, ws[i+1], gs[i+1]))
			}
		}
		return diffs, nil
	}
	var chunks [][]string
	for start := 0; start < len(q.names); start += batch {
		chunks = append(chunks, q.names[start:min(start+batch, len(q.names))])
	}
	type result struct {
		diffs []string
		err   error
	}
	results := make([]result, len(chunks))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				d, err := compare(chunks[i])
				results[i] = result{d, err}
			}
		}()
	}
	for i := range chunks {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	reported := 0
	for i, r := range results {
		total += len(chunks[i])
		if r.err != nil {
			t.Error(r.err)
			continue
		}
		same += len(chunks[i]) - len(r.diffs)
		for _, d := range r.diffs {
			if d == "" {
				continue
			}
			if reported++; reported <= 5 {
				t.Error(d)
			}
		}
	}
	if reported > 5 {
		t.Errorf("modprobe %s: %d more differences not shown", q.mode, reported-5)
	}
	return same, total
}

// dmQueries returns the names to look up in a tree that kmod's depmod
// indexed into moddir: -D for every module (modules.dep) and builtin
// module (modules.builtin), -R for every alias of modules.alias and
// modules.builtin.modinfo made concrete (see debianAliases), every
// "symbol:NAME" of modules.symbols, and every module name. A name that
// exists nowhere is added to both.
func dmQueries(t *testing.T, moddir string) []dmQuery {
	t.Helper()
	seen := map[string]bool{}
	var mods, aliases []string
	addTo := func(list *[]string, s string) {
		if s != "" && !seen[s] && !strings.HasPrefix(s, "-") {
			seen[s] = true
			*list = append(*list, s)
		}
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(moddir, name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, line := range strings.Split(read("modules.dep"), "\n") {
		if p, _, ok := strings.Cut(line, ":"); ok {
			addTo(&mods, modname.FromPath(p))
		}
	}
	for _, line := range strings.Split(read("modules.builtin"), "\n") {
		if line != "" {
			addTo(&mods, modname.FromPath(line))
		}
	}
	addTo(&mods, "gokmod_no_such_module")
	seen = map[string]bool{}
	if read("modules.alias") != "" {
		for _, a := range debianAliases(t, moddir) {
			addTo(&aliases, a)
		}
	}
	for _, rec := range strings.Split(read("modules.builtin.modinfo"), "\x00") {
		if _, v, ok := strings.Cut(rec, ".alias="); ok {
			addTo(&aliases, concrete(v))
			addTo(&aliases, concrete(strings.ReplaceAll(v, "*", "")))
		}
	}
	for _, line := range strings.Split(read("modules.symbols"), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "alias" {
			addTo(&aliases, f[1])
		}
	}
	for _, m := range mods {
		addTo(&aliases, m)
	}
	return []dmQuery{{"-D", mods}, {"-R", aliases}}
}

// dmDebianMirror is the Debian tree prepared for depmod: a mirror of its
// module directory without index files.
func dmDebianMirror(t *testing.T) (root, release, moddir, base string) {
	t.Helper()
	testmod.RequireTool(t, "depmod")
	testmod.RequireTool(t, "modprobe")
	root, release = testmod.DebianTree(t)
	moddir = testmod.ModuleDir(root, release)
	base = t.TempDir()
	dmMirror(t, base, release, moddir)
	return root, release, moddir, base
}

// TestDifferentialDepmodDebian runs both depmods on the Debian tree and
// compares what they write, and what kmod's modprobe answers from the
// two sets of indexes for every module, alias and symbol of the tree.
func TestDifferentialDepmodDebian(t *testing.T) {
	_, release, moddir, base := dmDebianMirror(t)
	conf := t.TempDir() // no depmod.d configuration
	mirror := testmod.ModuleDir(base, release)
	before := dmEntries(t, mirror)

	out := t.TempDir()
	start := time.Now()
	got := ourDepmod([]string{"-b", base, "-C", conf, "-o", out, release})
	ourTime := time.Since(start)
	if after := dmEntries(t, mirror); len(after) != len(before) {
		t.Errorf("gokmod depmod -o %s wrote into the module directory: %d entries instead of %d", out, len(after), len(before))
	}
	ourFiles := slices.Sorted(func(yield func(string) bool) {
		for n := range dmEntries(t, out) {
			if !yield(n) {
				return
			}
		}
	})

	start = time.Now()
	want := ref30().run(t, "depmod", []string{"-b", base, "-C", conf, release}, nil)
	kmodTime := time.Since(start)
	if want.Code != 0 || want.Stderr != "" {
		t.Fatalf("kmod depmod on the mirror: %s", want)
	}
	if got != want {
		t.Errorf("depmod -b BASE %s: kmod and gokmod differ:\nkmod:   %s\ngokmod: %s", release, want, got)
	}
	kmodFiles := slices.Sorted(func(yield func(string) bool) {
		for n := range dmEntries(t, mirror) {
			if !before[n] && !yield(n) {
				return
			}
		}
	})

	// The harness's premise: kmod follows the links and writes what
	// scripts/setup.sh's run of kmod wrote into the tree.
	for _, name := range kmodFiles {
		a, err1 := os.ReadFile(filepath.Join(mirror, name))
		b, err2 := os.ReadFile(filepath.Join(moddir, name))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("kmod's %s on the mirror is not the tree's (%v, %v)", name, err1, err2)
		}
	}
	c := dmCompareFiles(t, "debian", mirror, kmodFiles, out, ourFiles)

	ourBase := t.TempDir()
	dmMirror(t, ourBase, release, moddir, out)
	var counts []string
	for _, q := range dmQueries(t, mirror) {
		s, n := dmModprobe(t, base, ourBase, release, q, 400)
		counts = append(counts, fmt.Sprintf("modprobe %s %d/%d identical", q.mode, s, n))
	}
	t.Logf("debian %s: %s; %s; depmod kmod %v, gokmod %v", release, c, strings.Join(counts, ", "), kmodTime.Round(time.Millisecond), ourTime.Round(time.Millisecond))
}

// TestDifferentialDepmodDebianShow compares depmod -n on the Debian tree:
// kmod writes the text files (never the .bin ones) to stdout, one after
// the other, and nothing into the module directory. The second run adds
// -e -F System.map: the package's System.map lists no __ksymtab_
// symbols, so every symbol a module takes from vmlinux is reported as
// unknown, tens of thousands of warnings.
func TestDifferentialDepmodDebianShow(t *testing.T) {
	root, release, _, base := dmDebianMirror(t)
	conf := t.TempDir()
	mirror := testmod.ModuleDir(base, release)
	before := dmEntries(t, mirror)
	sysmap := filepath.Join(root, "boot", "System.map-"+release)
	for _, extra := range [][]string{nil, {"-e", "-F", sysmap}} {
		args := append(append([]string{"-b", base, "-C", conf, "-n"}, extra...), release)
		want := ref30().run(t, "depmod", args, nil)
		if want.Code != 0 || len(want.Stdout) < 1<<20 {
			t.Fatalf("kmod depmod %s: exit %d, %d bytes of stdout, stderr %q", shellQuote(args), want.Code, len(want.Stdout), trim(want.Stderr))
		}
		got := ourDepmod(args)
		if len(dmEntries(t, mirror)) != len(before) {
			t.Errorf("depmod %s wrote into the module directory", shellQuote(extra))
		}
		label := strings.TrimSpace("depmod -n " + shellQuote(extra))
		if got.Code != want.Code {
			t.Errorf("%s: kmod exit %d, gokmod %d", label, want.Code, got.Code)
		}
		if got.Stderr != want.Stderr {
			t.Errorf("%s stderr: %s", label, firstDiff(want.Stderr, got.Stderr))
		}
		if got.Stdout != want.Stdout {
			t.Errorf("%s stdout: %s", label, firstDiff(want.Stdout, got.Stdout))
		}
		if got == want {
			t.Logf("debian %s: identical (%d lines of stdout, %d of stderr)", label, strings.Count(want.Stdout, "\n"), strings.Count(want.Stderr, "\n"))
		}
	}
}

// dmSmallTree writes a small tree for the command-line tests and returns
// its root.
func dmSmallTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	tree := &testmod.Tree{
		Release: dmRelease,
		Modules: []testmod.TreeModule{
			{RelPath: "kernel/a/dm_one.ko", Module: dmMod([]string{"one_fn"}, nil, testmod.Alias("dm-one"))},
			{RelPath: "kernel/a/dm_two.ko.xz", Module: dmMod(nil, []string{"one_fn"}, testmod.Alias("dm-two"))},
		},
	}
	if _, err := tree.Write(root); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestDifferentialDepmodCommandLine compares the command line's checks:
// bad versions, bad options, relative and missing directories, help and
// version output.
func TestDifferentialDepmodCommandLine(t *testing.T) {
	testmod.RequireTool(t, "depmod")
	root := dmSmallTree(t)
	conf := filepath.Join(root, "depmod.d")
	rel := relToWd(t, root)
	moddir := testmod.ModuleDir(root, dmRelease)
	before := dmEntries(t, moddir)
	same, total := 0, 0
	c := dmCounts{}
	for _, args := range [][]string{
		{"-b", root, "-C", conf, "abc"},
		{"-b", root, "-C", conf, "1"},
		{"-b", root, "-C", conf, "x1.2"},
		{"-b", root, "-C", conf, "1.2"}, // a version, but no such directory
		{"-b", filepath.Join(root, "nonexistent"), "-C", conf, dmRelease},
		{"-b", rel, "-C", conf, dmRelease},
		{"--basedir=" + rel, "--config=" + conf, "--all", dmRelease},
		{"-b", root, "-C", conf, "-x", dmRelease},
		{"-b", root, "-C", conf, "--nosuch", dmRelease},
		{"-b"},
		{"-b", root, "-C", conf, "-P", "ab", dmRelease},
		{"-b", root, "-C", conf, "-P", "", dmRelease},
		{"-b", root, "-C", conf, "-u", "-q", "-r", "-m", dmRelease},
		{"-b", root, "-C", conf, "--unresolved-error", "--quiet", "--root", "--map", dmRelease},
		{"-b", root, "-C", conf, "-E", filepath.Join(root, "missing.symvers"), dmRelease},
		{"-b", root, "-C", conf, "-F", filepath.Join(root, "missing.map"), dmRelease},
		{"-b", root, "-C", conf, "-e", "-F", filepath.Join(root, "missing.map"), dmRelease},
		{"-b", root, "-C", conf, dmRelease, "extra/relative.ko"},
		{"-b", root, "-C", conf, dmRelease, filepath.Join(moddir, "kernel/a/nosuch.ko")},
	} {
		total++
		got := ourDepmod(args)
		ourDir, ourFiles := dmTakeNew(t, moddir, before)
		want := ref30().run(t, "depmod", args, nil)
		kmodDir, kmodFiles := dmTakeNew(t, moddir, before)
		label := "depmod " + shellQuote(args)
		if got == want {
			same++
		} else {
			t.Errorf("%s:\nkmod:   %s\ngokmod: %s", label, want, got)
		}
		c.add(dmCompareFiles(t, label, kmodDir, kmodFiles, ourDir, ourFiles))
	}
	// -h and -V differ on purpose, as gokmod modprobe's do (see
	// TestKnownDifferences): -h may describe -o too, so it must hold
	// kmod's lines in kmod's order; -V must be kmod's but for the one
	// feature Debian built kmod without.
	for _, opt := range []string{"-h", "--help", "-V", "--version"} {
		total++
		want := ref30().run(t, "depmod", []string{opt}, nil)
		got := ourDepmod([]string{opt})
		ok := got.Code == want.Code && got.Stderr == want.Stderr
		if opt == "-V" || opt == "--version" {
			// Debian's kmod 30 was built without zlib; gokmod reads .ko.gz.
			if d := versionDiffers(want.Stdout, got.Stdout, "ZLIB"); d != "" {
				ok = false
				t.Errorf("depmod %s: %s", opt, d)
			}
		} else {
			// kmod's lines, a subsequence of gokmod's
			wl, gl := strings.SplitAfter(want.Stdout, "\n"), strings.SplitAfter(got.Stdout, "\n")
			i := 0
			for _, l := range gl {
				if i < len(wl) && l == wl[i] {
					i++
				}
			}
			ok = ok && i == len(wl)
		}
		if !ok {
			t.Errorf("depmod %s:\nkmod:   %s\ngokmod: %s", opt, want, got)
			continue
		}
		same++
	}
	t.Logf("command line: %d/%d invocations identical (-h, -V: as far as they must be); %s", same, total, c)
}

// TestDifferentialDepmodQuick compares -A, which does the work only when
// a module is newer than modules.dep, and its -n quirk (kmod then does
// nothing at all), with kmod 30 and kmod 34.2.
func TestDifferentialDepmodQuick(t *testing.T) {
	forEachKmod(t, "depmod", testDepmodQuick)
}

func testDepmodQuick(t *testing.T, ref kmodRef) {
	root := dmSmallTree(t)
	conf := filepath.Join(root, "depmod.d")
	moddir := testmod.ModuleDir(root, dmRelease)
	quick := []string{"-b", root, "-C", conf, "-A", dmRelease}
	quickShow := []string{"-b", root, "-C", conf, "-A", "-n", dmRelease}
	pristine := dmEntries(t, moddir)
	same, total := 0, 0
	compare := func(label string, args []string, want, got outcome) {
		t.Helper()
		total++
		if got != want {
			t.Errorf("depmod %s (%s):\nkmod:   %s\ngokmod: %s", shellQuote(args), label, want, got)
			return
		}
		same++
	}
	outputs := func() []string {
		var names []string
		for name := range dmEntries(t, moddir) {
			if !pristine[name] {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		return names
	}
	snapshot := func() map[string]string {
		s := map[string]string{}
		for name := range dmEntries(t, moddir) {
			fi, err := os.Lstat(filepath.Join(moddir, name))
			if err != nil {
				t.Fatal(err)
			}
			s[name] = fmt.Sprint(fi.Size(), " ", fi.ModTime().UnixNano())
		}
		return s
	}
	day := time.Now().Add(24 * time.Hour)
	age := func() { // the outputs a day newer than every module
		t.Helper()
		for _, name := range outputs() {
			if err := os.Chtimes(filepath.Join(moddir, name), day, day); err != nil {
				t.Fatal(err)
			}
		}
	}

	// No modules.dep: both do the work, and -A -n does nothing.
	got := ref.ours("depmod", quickShow, nil)
	want := ref.run(t, "depmod", quickShow, nil)
	compare("no modules.dep", quickShow, want, got)
	if o := outputs(); len(o) != 0 {
		t.Errorf("depmod -A -n wrote %q", o)
	}
	got = ref.ours("depmod", quick, nil)
	ourDir, ourFiles := dmTakeNew(t, moddir, pristine)
	want = ref.run(t, "depmod", quick, nil)
	compare("no modules.dep", quick, want, got)
	c := dmCompareFiles(t, "depmod -A without modules.dep", moddir, outputs(), ourDir, ourFiles)

	// Up to date: neither touches a file.
	age()
	for _, args := range [][]string{quick, quickShow} {
		s0 := snapshot()
		want := ref.run(t, "depmod", args, nil)
		if s1 := snapshot(); fmt.Sprint(s1) != fmt.Sprint(s0) {
			t.Fatalf("kmod depmod %s changed an up-to-date tree", shellQuote(args))
		}
		got := ref.ours("depmod", args, nil)
		compare("up to date", args, want, got)
		if s2 := snapshot(); fmt.Sprint(s2) != fmt.Sprint(s0) {
			t.Errorf("gokmod depmod %s changed an up-to-date tree:\nbefore %v\nafter  %v", shellQuote(args), s0, s2)
		}
	}

	// A module newer than modules.dep: both do the work again.
	later := day.Add(time.Hour)
	if err := os.Chtimes(filepath.Join(moddir, "kernel/a/dm_one.ko"), later, later); err != nil {
		t.Fatal(err)
	}
	s0 := snapshot()
	got = ref.ours("depmod", quick, nil)
	if snapshot()["modules.dep"] == s0["modules.dep"] {
		t.Errorf("gokmod depmod -A did not rewrite a modules.dep older than a module")
	}
	age()
	want = ref.run(t, "depmod", quick, nil)
	if snapshot()["modules.dep"] == s0["modules.dep"] {
		t.Errorf("kmod depmod -A did not rewrite a modules.dep older than a module")
	}
	compare("a module newer than modules.dep", quick, want, got)

	// Entries the walk cannot stat or does not know are reported, and the
	// tree is still up to date.
	if err := os.Symlink("nosuch.ko", filepath.Join(moddir, "kernel/a/dangling.ko")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(moddir, "kernel/a/fifo.ko"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{quick, quickShow} {
		want := ref.run(t, "depmod", args, nil)
		got := ref.ours("depmod", args, nil)
		compare("odd entries", args, want, got)
	}
	t.Logf("depmod -A against %s: %d/%d invocations identical; %s", ref.name, same, total, c)
}

// libkmodPtrRE matches the pointers libkmod prints in its -vv messages
// ("custom logging function 0x55c0e5fd0d70 registered", after the source
// line in kmod 30's, "context 0x55557ae742f0 released").
var libkmodPtrRE = regexp.MustCompile(`(?m)^(depmod: INFO: .*(?:function|context)) 0x[0-9a-f]+`)

// dmMask hides libkmod's pointers in an outcome.
func dmMask(o outcome) outcome {
	o.Stderr = libkmodPtrRE.ReplaceAllString(o.Stderr, "$1 0xPTR")
	return o
}

// ourDepmod runs gokmod depmod in-process with args, following kmod 30.
func ourDepmod(args []string) outcome {
	return ref30().ours("depmod", args, nil)
}
