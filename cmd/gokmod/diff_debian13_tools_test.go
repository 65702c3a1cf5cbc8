package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokmod/modprobe/internal/modname"
	"github.com/gokmod/modprobe/internal/testmod"
)

// These tests compare gokmod, following kmod 34, with Debian 13's kmod
// 34.2 on Debian 13's kernel tree (4230 signed .ko.xz modules in a
// merged-usr layout, indexed by kmod 34.2's depmod: scripts/setup.sh):
// depmod's files byte for byte and its indexes read back by kmod's
// modprobe, and modinfo of every module. Decompressing every module of
// the tree takes minutes under the race detector, so gokmod runs as a
// separate binary built without it, as users run it; the smaller tests
// run it in-process.

// debian13 is Debian 13's tree and the tools compared on it.
type debian13 struct {
	root, release, moddir string
	tools                 string // gokmod's links, see gokmodTools
}

// both runs tool with args as kmod 34.2 and as gokmod (following kmod
// 34), at the same time, in the directory dir ("" for the test's).
func (d *debian13) both(t *testing.T, tool, dir string, args []string, oursArgs []string) (want, got outcome) {
	t.Helper()
	if oursArgs == nil {
		oursArgs = args
	}
	path := ref34().path(t, tool)
	var wg sync.WaitGroup
	var werr, gerr error
	wg.Go(func() { want, werr = execAs(path, tool, dir, args, nil) })
	wg.Go(func() {
		got, gerr = execAs(filepath.Join(d.tools, tool), tool, dir, oursArgs, ref34().env(nil))
	})
	wg.Wait()
	if werr != nil || gerr != nil {
		t.Fatalf("%s %s: %v, %v", tool, shellQuote(args), werr, gerr)
	}
	return want, got
}

// TestDifferentialDebian13 runs the comparisons on Debian 13's tree.
func TestDifferentialDebian13(t *testing.T) {
	root, release := testmod.Debian13Tree(t)
	ref34().path(t, "depmod")
	d := &debian13{root: root, release: release, moddir: testmod.ModuleDir(root, release), tools: gokmodTools(t)}
	t.Run("depmod", d.depmod)
	t.Run("modinfo", d.modinfo)
	t.Run("modprobe-symbols", d.symbols)
}

// symbols compares modprobe --show-exports and --show-modversions, which
// take a module file (in kmod 30 and 34 alike), on a sample of the tree.
func (d *debian13) symbols(t *testing.T) {
	dep, err := os.ReadFile(filepath.Join(d.moddir, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(dep)), "\n")
	same, total, syms := 0, 0, 0
	for i := 0; i < len(lines); i += 101 {
		p, _, _ := strings.Cut(lines[i], ":")
		for _, opt := range []string{"--show-exports", "--show-modversions"} {
			total++
			args := []string{opt, filepath.Join(d.moddir, p)}
			want, got := d.both(t, "modprobe", "", args, nil)
			syms += strings.Count(want.Stdout, "\n")
			if want != got {
				t.Errorf("modprobe %s:\nkmod:   %s\ngokmod: %s", shellQuote(args), trim(want.String()), trim(got.String()))
				continue
			}
			same++
		}
	}
	t.Logf("debian13 %s: modprobe --show-exports and --show-modversions of 1 module in 101: %d/%d invocations identical (%d symbols)", d.release, same, total, syms)
}

// depmod compares depmod -o on the tree, then what kmod's modprobe
// answers from either set of indexes for every module, builtin module,
// alias made concrete, symbol and module name of the tree.
func (d *debian13) depmod(t *testing.T) {
	conf := t.TempDir() // no depmod.d configuration
	kout, gout := t.TempDir(), t.TempDir()
	start := time.Now()
	want, got := d.both(t, "depmod", "", []string{"-b", d.root, "-C", conf, "-o", kout, d.release}, []string{"-b", d.root, "-C", conf, "-o", gout, d.release})
	took := time.Since(start)
	got.Stderr = strings.ReplaceAll(got.Stderr, gout, kout)
	if want.Code != 0 || want.Stderr != "" {
		t.Fatalf("kmod depmod on the tree: %s", want)
	}
	if got != want {
		t.Errorf("depmod -b ROOT -o OUT %s: kmod and gokmod differ:\nkmod:   %s\ngokmod: %s", d.release, want, got)
	}
	kdir, gdir := testmod.ModuleDir(kout, d.release), testmod.ModuleDir(gout, d.release)
	kfiles, gfiles := dmEntries(t, kdir), dmEntries(t, gdir)
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range kfiles {
			if !yield(n) {
				return
			}
		}
	})
	if len(names) != 11 || len(gfiles) != len(kfiles) {
		t.Errorf("kmod wrote %d files, gokmod %d (%v)", len(kfiles), len(gfiles), names)
	}
	var text, textSame, bin, binSame, tree int
	for _, n := range names {
		k, err1 := os.ReadFile(filepath.Join(kdir, n))
		g, err2 := os.ReadFile(filepath.Join(gdir, n))
		if err1 != nil || err2 != nil {
			t.Errorf("%s: %v, %v", n, err1, err2)
			continue
		}
		if s, err := os.ReadFile(filepath.Join(d.moddir, n)); err == nil && bytes.Equal(s, k) {
			tree++ // as scripts/setup.sh's run of kmod's depmod wrote it
		}
		same := bytes.Equal(k, g)
		if strings.HasSuffix(n, ".bin") {
			bin++
			if same {
				binSame++
			}
		} else {
			text++
			if same {
				textSame++
			}
		}
		if !same {
			t.Errorf("%s differs: %d vs %d bytes; %s", n, len(k), len(g), firstDiff(string(k), string(g)))
		}
	}
	t.Logf("debian13 %s: depmod: %d/%d text files and %d/%d .bin indexes identical byte for byte (%d of kmod's as the tree ships them); both depmods %v", d.release, textSame, text, binSame, bin, tree, took.Round(time.Millisecond))

	// kmod's modprobe reads the indexes back.
	kbase, gbase := t.TempDir(), t.TempDir()
	dmMirror(t, kbase, d.release, d.moddir, kdir)
	dmMirror(t, gbase, d.release, d.moddir, gdir)
	var counts []string
	for _, q := range dmQueries(t, testmod.ModuleDir(kbase, d.release)) {
		s, n := dmModprobeRef(t, ref34(), nil, kbase, gbase, d.release, q, 500)
		counts = append(counts, fmt.Sprintf("-%s %d/%d", q.mode[1:], s, n))
	}
	t.Logf("debian13 %s: kmod 34.2's modprobe on gokmod's indexes and on kmod's: %s names with identical answers", d.release, strings.Join(counts, ", "))
}

// modinfoSegments splits modinfo's output into one segment per module:
// each starts with its "filename:" line.
func modinfoSegments(out string) []string {
	var segs []string
	for _, line := range strings.SplitAfter(out, "\n") {
		if strings.HasPrefix(line, "filename:") || segs == nil {
			segs = append(segs, line)
			continue
		}
		segs[len(segs)-1] += line
	}
	return segs
}

// modinfo compares modinfo of every module file of the tree, signature
// fields included, by absolute path; then by name, of builtin modules,
// aliases, relative paths and with the field options, on samples.
func (d *debian13) modinfo(t *testing.T) {
	var paths, names []string
	f, err := os.Open(filepath.Join(d.moddir, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		p, _, _ := strings.Cut(sc.Text(), ":")
		paths = append(paths, filepath.Join(d.moddir, p))
		names = append(names, modname.FromPath(p))
	}
	f.Close()
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	var builtins []string
	b, err := os.ReadFile(filepath.Join(d.moddir, "modules.builtin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Fields(string(b)) {
		builtins = append(builtins, modname.FromPath(l))
	}
	base := []string{"-b", d.root, "-k", d.release}

	// Every module file, a batch of them per process: the outputs must
	// be identical; a batch that is not is split per module to count.
	// The processes run as many at a time as there are CPUs: gokmod's
	// take longer than kmod's (its xz decoder is slower than liblzma).
	same, signed := 0, 0
	const batch = 300
	var chunks [][]string
	for i := 0; i < len(paths); i += batch {
		chunks = append(chunks, paths[i:min(i+batch, len(paths))])
	}
	wants, gots := make([]outcome, len(chunks)), make([]outcome, len(chunks))
	jobs := make(chan func() error)
	errs := make(chan error, 2*len(chunks))
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Go(func() {
			for job := range jobs {
				errs <- job()
			}
		})
	}
	for i, chunk := range chunks {
		jobs <- func() (err error) {
			wants[i], err = execAs(ref34().path(t, "modinfo"), "modinfo", "", chunk, nil)
			return err
		}
		jobs <- func() (err error) {
			gots[i], err = execAs(filepath.Join(d.tools, "modinfo"), "modinfo", "", chunk, ref34().env(nil))
			return err
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, chunk := range chunks {
		want, got := wants[i], gots[i]
		signed += strings.Count(want.Stdout, "\nsig_hashalgo:")
		if want == got {
			same += len(chunk)
			continue
		}
		ws, gs := modinfoSegments(want.Stdout), modinfoSegments(got.Stdout)
		bad := 0
		for j := range ws {
			if j < len(gs) && ws[j] == gs[j] {
				same++
				continue
			}
			if bad++; bad <= 3 {
				g := ""
				if j < len(gs) {
					g = gs[j]
				}
				t.Errorf("modinfo differs:\nkmod:\n%sgokmod:\n%s", ws[j], g)
			}
		}
		if want.Stderr != got.Stderr || want.Code != got.Code {
			t.Errorf("modinfo batch %d: stderr or exit status differ:\nkmod: %d %q\ngokmod: %d %q", i, want.Code, trim(want.Stderr), got.Code, trim(got.Stderr))
		}
	}
	t.Logf("debian13 %s: modinfo: %d/%d modules identical (%d signed, signer, key, hash and signature included)", d.release, same, len(paths), signed)

	// By name, builtin, alias, relative path and with options, each
	// batch compared whole.
	sample := func(list []string, every int) []string {
		var out []string
		for i := 0; i < len(list); i += every {
			out = append(out, list[i])
		}
		return out
	}
	var rel []string
	for _, p := range sample(paths, 211) {
		r, err := filepath.Rel(d.moddir, p)
		if err != nil {
			t.Fatal(err)
		}
		rel = append(rel, "./"+r, r)
	}
	runs, runsSame := 0, 0
	compare := func(dir string, args []string) {
		t.Helper()
		runs++
		want, got := d.both(t, "modinfo", dir, args, nil)
		if want == got {
			runsSame++
			return
		}
		t.Errorf("modinfo %s (in %q):\nkmod:   %s\ngokmod: %s", trim(shellQuote(args)), dir, trim(want.String()), trim(got.String()))
	}
	compare("", append(slices.Clone(base), sample(names, 8)...))
	compare("", append(slices.Clone(base), builtins...))
	compare(d.moddir, rel)
	for _, opts := range [][]string{{"-0"}, {"-F", "signer"}, {"-F", "sig_key"}, {"-F", "signature"}, {"-p"}, {"-n"}, {"-F", "alias"}, {"-m"}, {"-a", "-0"}} {
		compare("", append(append(slices.Clone(base), opts...), sample(names, 97)...))
		compare("", append(append(slices.Clone(base), opts...), sample(builtins, 7)...))
	}
	compare("", append(slices.Clone(base), "pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00", "fs-vfat", "net-pf-10", "crypto-sha256", "no-such-module", "/nonexistent.ko.xz", "bad[name"))
	t.Logf("debian13 %s: modinfo by name (1 module in 8), of every builtin module, by relative path, with field options and by alias: %d/%d invocations identical", d.release, runsSame, runs)
}
