package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/modname"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDifferentialModinfo compares modinfo with kmod's on every module of
// the Debian tree, by name and by path, every builtin module, alias
// lookups, the field options, and bad arguments. Arguments go in batches:
// modinfo takes several, and the whole output of each batch must match.
func TestDifferentialModinfo(t *testing.T) {
	testmod.RequireTool(t, "modinfo")
	root, release := testmod.DebianTree(t)
	moddir := testmod.ModuleDir(root, release)
	base := []string{"-b", root, "-k", release}
	names := debianModules(t, moddir)
	var paths []string
	dep, err := os.ReadFile(filepath.Join(moddir, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(dep), "\n") {
		if p, _, ok := strings.Cut(line, ":"); ok {
			paths = append(paths, filepath.Join(moddir, p))
		}
	}
	var builtins []string
	f, err := os.Open(filepath.Join(moddir, "modules.builtin"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		builtins = append(builtins, modname.FromPath(sc.Text()))
	}
	f.Close()

	same, total := 0, 0
	batch := func(opts []string, args []string) {
		for i := 0; i < len(args); i += 150 {
			end := min(i+150, len(args))
			total += end - i
			if ref30().compare(t, "modinfo", append(append(append([]string{}, base...), opts...), args[i:end]...), nil) {
				same += end - i
			}
		}
	}
	batch(nil, names)
	batch(nil, paths)
	batch(nil, builtins)
	sample := func(list []string, every int) []string {
		var out []string
		for i := 0; i < len(list); i += every {
			out = append(out, list[i])
		}
		return out
	}
	for _, opts := range [][]string{{"-0"}, {"-F", "alias"}, {"-p"}, {"-0", "-p"}, {"-n"}, {"-F", "name"}, {"-F", "signer"}, {"-a", "-0"}, {"-m"}} {
		batch(opts, sample(names, 10))
		batch(opts, sample(builtins, 10))
	}
	batch(nil, []string{"pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00", "fs-vfat", "net-pf-10", "no-such-module", "/nonexistent.ko", "bad[name"})
	batch([]string{"-m"}, []string{"fs-vfat", "vfat", "no-such-module"})
	t.Logf("modinfo: %d/%d arguments in identical batches", same, total)
}

// TestDifferentialModinfoSynthetic compares modinfo on modules with
// unusual .modinfo contents: a key longer than 15 bytes, an entry without
// '=', a parameter without ':', descriptions without types and the
// reverse, compressed files (gzip included, which Debian's kmods, built
// without zlib, are shown as xz: see gzView), and a builtin module with
// and without modules.builtin.modinfo entries; with kmod 30 and with
// kmod 34.2, which prints a module file's path made absolute.
func TestDifferentialModinfoSynthetic(t *testing.T) {
	forEachKmod(t, "modinfo", testModinfoSynthetic)
}

func testModinfoSynthetic(t *testing.T, ref kmodRef) {
	root := t.TempDir()
	const rel = "1.0-synth"
	odd := &testmod.Module{ModInfo: []string{
		"license=GPL", "a_very_long_key_name_here=value", "noequals", "parm=broken", "parmtype=t1:int",
		"parm=p1:first", "parm=p2:second", "parmtype=p2:charp", "parmtype=p3:bool", "description=x=y", "parm=p1:again",
		"vermagic=" + testmod.DefaultVermagic(rel),
	}}
	tree := testmod.Tree{
		Release: rel,
		Modules: []testmod.TreeModule{
			{RelPath: "kernel/odd.ko", Module: odd},
			{RelPath: "kernel/xzmod.ko.xz", Module: odd},
			{RelPath: "kernel/zstmod.ko.zst", Module: odd},
			{RelPath: "kernel/gzmod.ko.gz", Module: odd},
			{RelPath: "kernel/plain-dash.ko", Module: &testmod.Module{ModInfo: []string{testmod.Alias("fs-plain"), "name=plain_dash"}}},
		},
		Builtin:        []string{"kernel/bi/bione.ko", "kernel/bi/bitwo.ko"},
		BuiltinModinfo: []string{"bione.license=GPL", "bione.alias=fs-bione", "bione.parm=x:desc", "bione.parmtype=x:int", "other.license=MIT", "bione.description=late"},
	}
	if _, err := tree.Write(root); err != nil {
		t.Fatal(err)
	}
	if o := ref.run(t, "depmod", []string{"-b", root, rel}, nil); o.Code != 0 {
		t.Fatalf("kmod's depmod: %s", o)
	}
	dir := testmod.ModuleDir(root, rel)
	fix, restore := gzView(t, dir)
	defer restore()
	base := []string{"-b", root, "-k", rel}
	same, total := 0, 0
	for _, args := range [][]string{
		{"odd"}, {"xzmod"}, {"zstmod"}, {"gzmod"}, {dir + "/kernel/odd.ko"}, {dir + "/kernel/xzmod.ko.xz"},
		{dir + "/kernel/gzmod.ko.gz"}, {"-p", "odd"}, {"-0", "odd"}, {"-F", "noequals", "odd"}, {"-F", "a_very_long_key_name_here", "odd"},
		{"plain-dash"}, {"fs-plain"}, {"-m", "plain_dash"}, {"bione"}, {"bitwo"}, {"-p", "bione"}, {"fs-bione"}, {"-0", "bione", "bitwo"},
		{"-n", dir + "/kernel/../kernel/odd.ko", dir + "/kernel/gzmod.ko.gz"},
	} {
		total++
		args = append(slices.Clone(base), args...)
		kargs := make([]string, len(args))
		for i, a := range args {
			kargs[i] = strings.ReplaceAll(a, "gzmod.ko.gz", "gzmod.ko.xz")
		}
		want := fixOutcome(ref.run(t, "modinfo", kargs, nil), fix)
		got := ref.ours("modinfo", args, nil)
		if want != got {
			t.Errorf("modinfo %s (against %s) differs:\nkmod:   %s\ngokmod: %s", shellQuote(args), ref.name, want, got)
			continue
		}
		same++
	}
	// -h is kmod's; -V kmod's first line, which scripts parse, then
	// gokmod's features.
	for _, opt := range []string{"-h", "--help", "-V", "--version", "-x"} {
		total++
		want, got := ref.run(t, "modinfo", []string{opt}, nil), ref.ours("modinfo", []string{opt}, nil)
		if first, _, _ := strings.Cut(want.Stdout, "\n"); strings.HasPrefix(first, "kmod version ") {
			compat := modprobe.CompatKmod30
			if ref.kmod34 {
				compat = modprobe.CompatLatest
			}
			if got.Code == want.Code && got.Stderr == want.Stderr && got.Stdout == versionText(compat) && strings.HasPrefix(got.Stdout, first+"\n") {
				same++
				continue
			}
		} else if got == want {
			same++
			continue
		}
		t.Errorf("modinfo %s (against %s):\nkmod:   %s\ngokmod: %s", opt, ref.name, want, got)
	}
	t.Logf("modinfo on synthetic modules, %s: %d/%d invocations identical (-V as far as it must be)", ref.name, same, total)
}

// TestDifferentialMissingSections compares the error of a module file
// without the section asked for (no .modinfo, no exports, no __versions):
// kmod 30 says ENOENT, kmod 34.2 ENODATA.
func TestDifferentialMissingSections(t *testing.T) {
	dir := t.TempDir()
	bare := filepath.Join(dir, "bare.ko")
	img, err := (&testmod.Module{Name: "bare"}).ELF()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bare, img, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []kmodRef{ref30(), ref34()} {
		same := 0
		cmds := [][]string{{"modinfo", bare}, {"modinfo", "-F", "license", bare}, {"modprobe", "--show-exports", bare}, {"modprobe", "--show-modversions", bare}}
		for _, c := range cmds {
			if ref.compare(t, c[0], c[1:], nil) {
				same++
			}
		}
		t.Logf("a module without sections, %s: %d/%d invocations identical", ref.name, same, len(cmds))
	}
}

// TestDifferentialModinfoCorrupt: modinfo of broken module files, read in
// parts (modfile.Buffer.ReadInfo), says what kmod says of each, in one
// process as in several: truncated files, tables outside the end that is
// read first, a signature longer than the file. Of files whose headers
// point out of them, where kmod says EINVAL (kmod 34.2 fails an
// assertion on a name table index out of range) and gokmod, as before
// these were read in parts, ENOEXEC, only a clear error naming the
// module is checked.
func TestDifferentialModinfoCorrupt(t *testing.T) {
	img, err := (&testmod.Module{Name: "broken", ModInfo: testmod.StandardModInfo("broken", testmod.DefaultVermagic("6.1.0-test"))}).ELF()
	require.NoError(t, err)
	le := binary.LittleEndian
	shoff := int(le.Uint64(img[0x28:]))
	strHeader := shoff + int(le.Uint16(img[0x3e:]))*64
	set64 := func(b []byte, off int, v uint64) []byte { le.PutUint64(b[off:], v); return b }
	padded := append(bytes.Clone(img), make([]byte, 64<<10)...)
	same := map[string][]byte{
		"whole":            img,
		"bad-magic":        append([]byte("\x7fELG"), img[4:]...),
		"padded":           padded,
		"padded-cut":       padded[:len(img)+100],
		"signature-beyond": append(bytes.Clone(img), append([]byte{0, 0, 2, 0, 0, 0, 0, 0, 0x7f, 0, 0, 0}, "~Module signature appended~\n"...)...),
	}
	broken := map[string][]byte{
		"empty":        nil,
		"header-cut":   img[:40],
		"table-cut":    img[:shoff+100],
		"table-beyond": set64(bytes.Clone(img), 0x28, uint64(len(img))),
		"names-beyond": set64(bytes.Clone(img), strHeader+0x18, uint64(len(img))),
		"names-index":  append(append(bytes.Clone(img[:0x3e]), 0xff, 0x7f), img[0x40:]...),
	}
	dir := t.TempDir()
	write := func(cases map[string][]byte) (files []string) {
		for name, b := range cases {
			p := filepath.Join(dir, name+".ko")
			require.NoError(t, os.WriteFile(p, b, 0o644))
			files = append(files, p)
		}
		slices.Sort(files)
		return files
	}
	files := write(same)
	for _, ref := range []kmodRef{ref30(), ref34()} {
		ref.compare(t, "modinfo", files, nil)
		for _, p := range files {
			ref.compare(t, "modinfo", []string{"-F", "license", p}, nil)
		}
		for _, p := range write(broken) {
			got := ref.ours("modinfo", []string{p}, nil)
			name := modname.FromPath(p)
			assert.Equal(t, "filename:       "+p+"\n", got.Stdout, name)
			assert.Equal(t, "modinfo: ERROR: could not get modinfo from '"+name+"': Exec format error\n", got.Stderr, name)
		}
	}
}
