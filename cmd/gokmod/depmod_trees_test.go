package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

// Synthetic trees for the depmod comparison (diff_depmod_test.go): each
// is written under a temporary root and indexed by both depmods with one
// or more argument lists. For every run gokmod runs twice, in place and
// with -o, which must agree byte for byte, then kmod runs in place; the
// outcomes and the files are compared, and for the first run of a tree
// kmod's modprobe answers -D and -R from both sets of indexes.

const dmRelease = "9.9.9-depmod"

// dmMod returns a module with exports (CRCs in __kcrctab, as Linux 6.x
// with CONFIG_MODVERSIONS writes them), undefined symbols and modinfo.
func dmMod(exports, uses []string, info ...string) *testmod.Module {
	return &testmod.Module{Exports: exports, Uses: uses, ModInfo: info, ExportStyle: testmod.ExportKcrctab}
}

// dmImage returns the file contents of module m named name, compressed
// with c, for Tree.Files (modules outside the module directory).
func dmImage(t *testing.T, name string, m *testmod.Module, c testmod.Compression) []byte {
	t.Helper()
	mm := *m
	mm.Name = name
	img, err := mm.ELF()
	if err != nil {
		t.Fatal(err)
	}
	data, err := testmod.Compress(img, c)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// depmodCase is one synthetic tree and the depmod runs on it.
type depmodCase struct {
	name string
	tree *testmod.Tree
	// conf holds files below the root, typically "depmod.d/NAME.conf";
	// "@ROOT@" in them stands for the root.
	conf map[string]string
	// setup changes the written tree (links, FIFOs, ...).
	setup func(t *testing.T, root, moddir string)
	// runs are the argument lists, nil meaning one run without any. Each
	// run gets "-b ROOT", "-C ROOT/depmod.d" unless it has a -C of its
	// own, and the release at the end unless it names "@REL@" itself.
	// "@ROOT@", "@MODDIR@" and "@REL@" are replaced.
	runs [][]string
}

// dmTotals sums up the synthetic comparisons.
type dmTotals struct {
	trees, runs, runsSame int
	files                 dmCounts
	oRuns, oSame          int
	queries               map[string][2]int
}

// dmArgs expands a run's argument list.
func dmArgs(run []string, root, moddir string) []string {
	args := []string{"-b", root}
	hasConf, hasRel := false, false
	for _, a := range run {
		if a == "-C" || strings.HasPrefix(a, "--config") {
			hasConf = true
		}
		if strings.Contains(a, "@REL@") {
			hasRel = true
		}
	}
	if !hasConf {
		args = append(args, "-C", filepath.Join(root, "depmod.d"))
	}
	r := strings.NewReplacer("@ROOT@", root, "@MODDIR@", moddir, "@REL@", dmRelease)
	for _, a := range run {
		args = append(args, r.Replace(a))
	}
	if !hasRel {
		args = append(args, dmRelease)
	}
	return args
}

// runDepmodCase writes the tree of c and compares the depmods on it:
// gokmod's following ref with ref's. Module files ending in .ko.gz are
// shown to kmod as .ko.xz (see gzView).
func runDepmodCase(t *testing.T, ref kmodRef, c depmodCase, tot *dmTotals) {
	t.Helper()
	root := t.TempDir()
	tree := *c.tree
	tree.Release = dmRelease
	tree.Files = map[string][]byte{}
	for k, v := range c.tree.Files {
		tree.Files[k] = v
	}
	for k, v := range c.conf {
		tree.Files[k] = []byte(strings.ReplaceAll(v, "@ROOT@", root))
	}
	moddir, err := tree.Write(root)
	if err != nil {
		t.Fatal(err)
	}
	if c.setup != nil {
		c.setup(t, root, moddir)
	}
	pristine := dmEntries(t, moddir)
	runs := c.runs
	if runs == nil {
		runs = [][]string{{}}
	}
	tot.trees++
	for i, run := range runs {
		args := dmArgs(run, root, moddir)
		label := fmt.Sprintf("%s: depmod %s", c.name, shellQuote(run))

		got := dmMask(ref.ours("depmod", args, nil))
		ourDir, ourFiles := dmTakeNew(t, moddir, pristine)
		if !slices.Contains(args, "-n") {
			tot.oRuns++
			if dmCheckOutDir(t, ref, label, args, got, moddir, pristine, ourDir, ourFiles) {
				tot.oSame++
			}
		}

		fix, restore := gzView(t, root)
		want := fixOutcome(dmMask(ref.run(t, "depmod", args, nil)), fix)
		kmodDir, kmodFiles := dmTakeNew(t, moddir, pristine)
		tot.runs++
		if got == want {
			tot.runsSame++
		} else {
			t.Errorf("%s:\nkmod:   %s\ngokmod: %s", label, want, got)
		}
		tot.files.add(dmCompareFixed(t, label, kmodDir, kmodFiles, ourDir, ourFiles, fix))

		if i == 0 && len(kmodFiles) > 0 && slices.Equal(kmodFiles, ourFiles) {
			kbase, obase := t.TempDir(), t.TempDir()
			kdir := dmMirror(t, kbase, dmRelease, moddir, kmodDir)
			dmMirror(t, obase, dmRelease, moddir, ourDir)
			for _, q := range dmQueries(t, kdir) {
				s, n := dmModprobeRef(t, ref, fix, kbase, obase, dmRelease, q, 64)
				v := tot.queries[q.mode]
				tot.queries[q.mode] = [2]int{v[0] + s, v[1] + n}
			}
		}
		restore()
	}
}

// dmCheckOutDir runs gokmod depmod again with -o and reports whether it
// did what it did in place (got, ourFiles in ourDir): the same outcome
// and files, none of them in the module directory. kmod 30's gokmod
// writes the files into the -o directory itself, kmod 34's -o (kmod's
// own) under OUTDIR/lib/modules/RELEASE.
func dmCheckOutDir(t *testing.T, ref kmodRef, label string, args []string, got outcome, moddir string, pristine map[string]bool, ourDir string, ourFiles []string) bool {
	t.Helper()
	out := t.TempDir()
	gotO := dmMask(ref.ours("depmod", append([]string{"-o", out}, args...), nil))
	dir := out
	if ref.kmod34 {
		dir = testmod.ModuleDir(out, dmRelease)
	}
	_, stray := dmTakeNew(t, moddir, pristine)
	oFiles := slices.Sorted(func(yield func(string) bool) {
		for n := range dmEntries(t, dir) {
			if !yield(n) {
				return
			}
		}
	})
	ok := len(stray) == 0 && gotO == got && slices.Equal(oFiles, ourFiles)
	if len(stray) != 0 {
		t.Errorf("%s: with -o gokmod wrote %q into the module directory", label, stray)
	}
	if gotO != got {
		t.Errorf("%s: gokmod in place and with -o differ:\nin place: %s\n-o:       %s", label, got, gotO)
	}
	if !slices.Equal(oFiles, ourFiles) {
		t.Errorf("%s: gokmod wrote %q in place but %q with -o", label, ourFiles, oFiles)
	}
	for _, name := range oFiles {
		a, _ := os.ReadFile(filepath.Join(ourDir, name))
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(a) != string(b) {
			ok = false
			t.Errorf("%s: gokmod's %s in place and with -o differ (%v)", label, name, err)
		}
	}
	return ok
}

// TestDifferentialDepmodSynthetic compares the depmods on every synthetic
// tree, gokmod following kmod 30 with Debian 12's kmod 30.
func TestDifferentialDepmodSynthetic(t *testing.T) {
	testDepmodSynthetic(t, ref30())
}

// TestDifferentialDepmodSyntheticKmod34 compares the depmods on every
// synthetic tree, gokmod following kmod 34 with Debian 13's kmod 34.2.
func TestDifferentialDepmodSyntheticKmod34(t *testing.T) {
	testDepmodSynthetic(t, ref34())
}

func testDepmodSynthetic(t *testing.T, ref kmodRef) {
	ref.path(t, "depmod")
	ref.path(t, "modprobe")
	tot := dmTotals{queries: map[string][2]int{}}
	for _, c := range depmodCases(t) {
		t.Run(c.name, func(t *testing.T) { runDepmodCase(t, ref, c, &tot) })
	}
	d, r := tot.queries["-D"], tot.queries["-R"]
	t.Logf("synthetic, %s: %d trees, %d/%d runs identical (stdout, stderr, exit status), %s; -o agrees with in place in %d/%d runs; kmod's modprobe on gokmod's indexes: -D %d/%d, -R %d/%d identical",
		ref.name, tot.trees, tot.runsSame, tot.runs, tot.files, tot.oSame, tot.oRuns, d[0], d[1], r[0], r[1])
}

// depmodCases returns the synthetic trees.
func depmodCases(t *testing.T) []depmodCase {
	t.Helper()
	a := testmod.Aliases
	info := func(groups ...[]string) []string { return slices.Concat(groups...) }
	var cases []depmodCase

	// A chain c -> b -> a, a diamond d -> {b, e} -> a, a symbol
	// exported by two modules, unknown and weak symbols, CRCs that
	// disagree, compressed modules (.ko.gz included, which Debian's
	// kmods, built without zlib, read as .ko.xz: see gzView) and files
	// that are not modules.
	symvers := "0x00002222\tprintk\tvmlinux\tEXPORT_SYMBOL\n" +
		"0x00003333\tfrom_module\tdrivers/x/y\tEXPORT_SYMBOL_GPL\n" +
		"0x00004444\tvm_only\tvmlinux\tEXPORT_SYMBOL\n" +
		"short line\n"
	sysmap := "ffffffff81000000 T printk\n" +
		"ffffffff81000010 R __ksymtab_printk\n" +
		"ffffffff81000020 r __ksymtab_vm_only\n" +
		"ffffffff81000030 R __kstrtab_ignored\n"
	unknown := dmMod(nil, []string{"nosuch_fn", "printk", "a_fn", "vm_only"}, testmod.Alias("dm-unknown"))
	unknown.WeakUses = []string{"weak_nosuch", "e_fn"}
	unknown.Versions = []testmod.VersionEntry{{CRC: 0x1111, Name: "printk"}, {CRC: 0xdeadbeef, Name: "a_fn"}, {CRC: 0x4444, Name: "vm_only"}, {CRC: 1, Name: "module_layout"}}
	bmod := dmMod([]string{"b_fn"}, []string{"a_fn"}, info(a("dm-b", "pci:v00001234d00005678sv*sd*bc*sc*i*"), []string{testmod.Depends("dm_a")})...)
	bmod.Versions = []testmod.VersionEntry{{CRC: uint64(dmMod([]string{"a_fn"}, nil).ExportCRC("a_fn")), Name: "a_fn"}}
	basic := &testmod.Tree{
		Modules: []testmod.TreeModule{
			{RelPath: "kernel/lib/dm_a.ko", Module: dmMod([]string{"a_fn", "a_fn2", "a_gpl"}, nil, a("dm-a", "pci:v00001234d*sv*sd*bc*sc*i*", "of:N*T*Cdm,a")...)},
			{RelPath: "kernel/lib/dm_b.ko.xz", Module: bmod},
			{RelPath: "kernel/lib/dm_c.ko.zst", Module: dmMod([]string{"c_fn"}, []string{"b_fn"}, a("dm-c")...)},
			{RelPath: "kernel/drivers/dm-d.ko", Module: dmMod(nil, []string{"b_fn", "e_fn"}, a("usb:v1234p*d*dc*dsc*dp*ic*isc*ip*in*")...)},
			{RelPath: "kernel/drivers/dm_e.ko", Module: dmMod([]string{"e_fn"}, []string{"a_fn2"}, a("dm-a", "acpi*:DMTEST01:*")...)},
			{RelPath: "kernel/dup/dup_one.ko", Module: dmMod([]string{"shared_fn", "one_fn"}, nil)},
			{RelPath: "kernel/dup/dup_two.ko", Module: dmMod([]string{"shared_fn", "from_module"}, nil)},
			{RelPath: "kernel/dup/dup_user.ko", Module: dmMod(nil, []string{"shared_fn", "one_fn", "from_module"})},
			{RelPath: "kernel/misc/dm_unknown.ko", Module: unknown},
			{RelPath: "kernel/misc/dm_gz.ko.gz", Module: dmMod([]string{"gz_fn"}, nil, a("dm-gz")...)},
			{RelPath: "kernel/misc/gz_user.ko", Module: dmMod(nil, []string{"gz_fn", "c_fn"})},
			{RelPath: "kernel/misc/dm_alias.ko", Module: dmMod(nil, nil, a("dm-a", "fs-dmfoo", "dm-c", "x-y_z-[a-c]-q")...)},
		},
		Builtin:        []string{"kernel/fs/dmfs/dmfs.ko"},
		BuiltinModinfo: []string{"dmfs.alias=fs-dmfs", "dmfs.license=GPL"},
		Files: map[string][]byte{
			"System.map":     []byte(sysmap),
			"Module.symvers": []byte(symvers),
			"lib/modules/" + dmRelease + "/kernel/misc/README":      []byte("not a module\n"),
			"lib/modules/" + dmRelease + "/kernel/misc/old.ko.orig": []byte("not a module either\n"),
		},
	}
	cases = append(cases, depmodCase{name: "basic", tree: basic, runs: [][]string{
		{}, {"-a"}, {"--all", "--warn"}, {"-w"}, {"-n"}, {"--show"}, {"-v"}, {"-e"},
		{"-e", "-F", "@ROOT@/System.map"},
		{"-F", "@ROOT@/System.map"},
		{"-e", "-E", "@ROOT@/Module.symvers"},
		{"-E", "@ROOT@/Module.symvers"},
		{"-e", "-E", "@ROOT@/Module.symvers", "-F", "@ROOT@/System.map"},
		{"-e", "-v", "-F", "@ROOT@/System.map"},
		{"-A"},
		{"-n", "-e", "-F", "@ROOT@/System.map"},
	}})

	// The same tree, modules named on the command line (no -a): only
	// those are indexed; paths outside the module directory stay
	// absolute; relative ones are refused.
	cmdline := *basic
	cmdline.Files = map[string][]byte{"ext/dm_ext.ko": dmImage(t, "dm_ext", dmMod(nil, []string{"a_fn"}, testmod.Alias("dm-ext")), testmod.None)}
	cases = append(cases, depmodCase{name: "command-line-modules", tree: &cmdline, runs: [][]string{
		{"@REL@", "@MODDIR@/kernel/lib/dm_b.ko.xz", "@MODDIR@/kernel/lib/dm_a.ko", "@MODDIR@/kernel/lib/dm_c.ko.zst"},
		{"@REL@", "@MODDIR@/kernel/lib/dm_c.ko.zst", "@ROOT@/ext/dm_ext.ko", "@MODDIR@/kernel/lib/dm_a.ko"},
		{"-a", "@REL@", "@MODDIR@/kernel/lib/dm_a.ko"},
		{"@REL@", "kernel/lib/dm_a.ko"},
		{"@REL@", "@MODDIR@/kernel/lib/nosuch.ko"},
		{"@REL@", "@MODDIR@/kernel/lib/dm_a.ko", "@MODDIR@/kernel/lib/dm_a.ko"},
	}})

	// No modules.order: the order is that of kmod's module hash table.
	// Many modules share exports, so the owner of a symbol depends on it
	// too.
	var many []testmod.TreeModule
	var users []string
	for i := range 24 {
		name := fmt.Sprintf("m%02d", i)
		exports := []string{name + "_fn", "common_fn"}
		if i%3 == 0 {
			exports = append(exports, "third_fn")
		}
		var uses []string
		if i > 0 && i%4 == 0 {
			uses = []string{fmt.Sprintf("m%02d_fn", i-1)}
		}
		many = append(many, testmod.TreeModule{
			RelPath: fmt.Sprintf("kernel/m/%s/%s.ko", name[:2], strings.ReplaceAll(name, "m", "mod-")),
			Module:  dmMod(exports, uses, a("many-alias", name+"-alias", fmt.Sprintf("pci:v0000%04Xd*", i))...),
		})
		users = append(users, name+"_fn")
	}
	many = append(many, testmod.TreeModule{RelPath: "kernel/m/user.ko", Module: dmMod(nil, append(users, "common_fn", "third_fn"), a("many-alias")...)})
	cases = append(cases, depmodCase{name: "no-modules-order", tree: &testmod.Tree{Modules: many, OmitOrder: true}, runs: [][]string{{}, {"-w"}, {"-n"}}})
	cases = append(cases, depmodCase{name: "modules-order-many", tree: &testmod.Tree{Modules: many}})
	reversed := slices.Clone(many)
	slices.Reverse(reversed)
	var revOrder []string
	for _, m := range reversed {
		revOrder = append(revOrder, m.RelPath)
	}
	cases = append(cases, depmodCase{name: "modules-order-reversed", tree: &testmod.Tree{Modules: many, Order: revOrder}})

	// modules.order naming a subset, in another order, with a missing
	// module, a compressed module by its compressed name (no match), an
	// empty line and a duplicate.
	subset := []testmod.TreeModule{
		{RelPath: "kernel/o/o1.ko", Module: dmMod([]string{"o_shared", "o1_fn"}, nil, a("o-alias")...)},
		{RelPath: "kernel/o/o2.ko", Module: dmMod(nil, []string{"o_shared", "o1_fn"}, a("o-alias")...)},
		{RelPath: "kernel/o/o3.ko.xz", Module: dmMod([]string{"o_shared"}, nil, a("o-alias")...)},
		{RelPath: "kernel/o/o4.ko", Module: dmMod([]string{"o_shared", "o4_fn"}, nil)},
		{RelPath: "kernel/o/o5.ko.zst", Module: dmMod([]string{"o_shared"}, []string{"o4_fn"}, a("o-alias")...)},
		{RelPath: "kernel/o/o6.ko", Module: dmMod(nil, []string{"o_shared"})},
	}
	cases = append(cases, depmodCase{name: "modules-order-subset", tree: &testmod.Tree{Modules: subset, Order: []string{
		"kernel/o/o5.ko", "kernel/o/nosuch.ko", "kernel/o/o3.ko.xz", "kernel/o/o1.ko", "", "kernel/o/o2.ko", "kernel/o/o1.ko", "o4.ko",
	}}, runs: [][]string{{}, {"-w"}}})
	cases = append(cases, depmodCase{name: "modules-order-corrupt", tree: &testmod.Tree{Modules: subset, OmitOrder: true, Files: map[string][]byte{
		"lib/modules/" + dmRelease + "/modules.order": []byte("kernel/o/o5.ko\nkernel/o/o1.ko"),
	}}})
	cases = append(cases, depmodCase{name: "modules-order-empty", tree: &testmod.Tree{Modules: subset, Order: []string{}}})

	// The same module in updates/, kernel/, extra/ and elsewhere, under
	// the default search order and under depmod.d rules.
	dups := &testmod.Tree{Modules: []testmod.TreeModule{
		{RelPath: "kernel/u/same.ko", Module: dmMod([]string{"same_fn", "k_fn"}, nil, a("same-kernel")...)},
		{RelPath: "updates/same.ko", Module: dmMod([]string{"same_fn", "u_fn"}, nil, a("same-updates")...)},
		{RelPath: "extra/same.ko.xz", Module: dmMod([]string{"same_fn", "x_fn"}, nil, a("same-extra")...)},
		{RelPath: "kernel/u/other.ko", Module: dmMod([]string{"other_fn"}, nil, a("other-kernel")...)},
		{RelPath: "updates/dkms/other.ko.zst", Module: dmMod([]string{"other_fn"}, []string{"same_fn"}, a("other-updates")...)},
		{RelPath: "extra/only.ko", Module: dmMod([]string{"only_fn"}, []string{"other_fn"}, a("only-extra")...)},
		{RelPath: "kernel/u/ovr.ko", Module: dmMod(nil, nil, a("ovr-kernel")...)},
		{RelPath: "weird/ovr.ko", Module: dmMod(nil, nil, a("ovr-weird")...)},
		{RelPath: "updates/ovr.ko", Module: dmMod(nil, nil, a("ovr-updates")...)},
		{RelPath: "kernel/u/user.ko", Module: dmMod(nil, []string{"same_fn", "only_fn"})},
	}}
	cases = append(cases, depmodCase{name: "updates-default", tree: dups, runs: [][]string{{}, {"-w"}}})
	for _, sc := range []struct{ name, conf string }{
		{"search-builtin-first", "search built-in updates extra\n"},
		{"search-extra-updates", "search extra updates\n"},
		{"search-two-lines", "search weird\nsearch updates built-in\n"},
		{"search-tabs-continued", "search\textra \\\n\tupdates   built-in\n"},
		{"override", "override same * extra\noverride other 9\\.9\\..* kernel/u\noverride ovr 1\\.2\\.3 weird\noverride ovr ^9 weird\n"},
		{"override-search", "search updates built-in\noverride same " + dmRelease + " kernel/u\noverride only * kernel\n"},
		{"bad-lines", "# comment\n\n   \noverride same\nexternal *\nbogus line here\ninclude /etc/depmod.d/x.conf\nmake_map_files\nsearch\noverride same *\n"},
	} {
		cases = append(cases, depmodCase{name: sc.name, tree: dups, conf: map[string]string{"depmod.d/10-test.conf": sc.conf}})
	}
	// Configuration files and directories: sorting across -C paths,
	// duplicate names (the first wins), files given directly, names
	// without .conf, hidden files and directories.
	cases = append(cases, depmodCase{name: "config-paths", tree: dups,
		conf: map[string]string{
			"c1/20-search.conf":  "search extra built-in\n",
			"c1/10-over.conf":    "override ovr * weird\n",
			"c1/ignored.txt":     "search updates\n",
			"c1/.hidden.conf":    "search updates\n",
			"c1/sub.conf/x.conf": "search updates\n",
			"c2/20-search.conf":  "search updates\n",
			"c2/05-first.conf":   "override same * extra\n",
			"single.conf":        "override other * updates/dkms\n",
		},
		runs: [][]string{
			{"-C", "@ROOT@/c1", "-C", "@ROOT@/c2"},
			{"-C", "@ROOT@/c2", "-C", "@ROOT@/c1"},
			{"-C", "@ROOT@/c1", "-C", "@ROOT@/single.conf", "-C", "@ROOT@/nonexistent"},
			{"--config=@ROOT@/c2", "-v"},
			{"-C", "@ROOT@/c1", "-vv"},
		}})

	// External directories: absolute paths in the indexes, the
	// "external" search keyword, version patterns, a missing directory.
	extTree := &testmod.Tree{
		Modules: []testmod.TreeModule{
			{RelPath: "kernel/x/e_one.ko", Module: dmMod([]string{"ext_fn"}, nil, a("e-one-kernel")...)},
			{RelPath: "kernel/x/e_user.ko", Module: dmMod(nil, []string{"ext_fn", "two_fn"})},
			{RelPath: "updates/e_three.ko", Module: dmMod(nil, nil, a("e-three-updates")...)},
		},
		Files: map[string][]byte{
			"ext/e_one.ko":         dmImage(t, "e_one", dmMod([]string{"ext_fn"}, nil, testmod.Alias("e-one-ext")), testmod.None),
			"ext/sub/e_two.ko.xz":  dmImage(t, "e_two", dmMod([]string{"two_fn"}, []string{"ext_fn"}, testmod.Alias("e-two-ext")), testmod.Xz),
			"ext/sub/e_three.ko":   dmImage(t, "e_three", dmMod(nil, nil, testmod.Alias("e-three-ext")), testmod.None),
			"ext2/e_four.ko":       dmImage(t, "e_four", dmMod(nil, []string{"two_fn"}), testmod.None),
			"ext2/build/e_five.ko": dmImage(t, "e_five", dmMod(nil, nil), testmod.None),
		},
	}
	for _, ec := range []struct{ name, conf string }{
		{"external-search", "search external updates built-in\nexternal * @ROOT@/ext\nexternal 1\\.0 @ROOT@/nomatch\nexternal * @ROOT@/missing-ext\nexternal 9\\.9 @ROOT@/ext2\n"},
		{"external-last", "search updates built-in external\nexternal * @ROOT@/ext\n"},
		{"external-no-search", "external * @ROOT@/ext\nexternal * @ROOT@/ext2\n"},
		{"external-trailing-slash", "search external built-in\nexternal * @ROOT@/ext/\n"},
	} {
		cases = append(cases, depmodCase{name: ec.name, tree: extTree, conf: map[string]string{"depmod.d/ext.conf": ec.conf}})
	}

	// exclude, and the build and source directories depmod always skips.
	excl := &testmod.Tree{Modules: []testmod.TreeModule{
		{RelPath: "kernel/keep/k.ko", Module: dmMod(nil, []string{"s_fn", "t_fn"}, a("k")...)},
		{RelPath: "kernel/skipme/s.ko", Module: dmMod([]string{"s_fn"}, nil, a("s")...)},
		{RelPath: "kernel/keep/skipme/t.ko", Module: dmMod([]string{"t_fn"}, nil, a("t")...)},
		{RelPath: "kernel/build/b.ko", Module: dmMod(nil, nil, a("b")...)},
		{RelPath: "kernel/source/c.ko", Module: dmMod(nil, nil, a("c")...)},
		{RelPath: "build/d.ko", Module: dmMod(nil, nil, a("d")...)},
		{RelPath: "kernel/also/x.ko", Module: dmMod(nil, nil, a("x")...)},
	}}
	cases = append(cases, depmodCase{name: "exclude", tree: excl, conf: map[string]string{"depmod.d/ex.conf": "exclude skipme\nexclude also nosuch\n"}})
	cases = append(cases, depmodCase{name: "exclude-none", tree: excl})

	// Dependency cycles: a <-> b, c -> d -> e -> c, f depends on the
	// 3-cycle, g and h outside.
	cycles := &testmod.Tree{Modules: []testmod.TreeModule{
		{RelPath: "kernel/cy/cy_a.ko", Module: dmMod([]string{"a_fn"}, []string{"b_fn", "g_fn"})},
		{RelPath: "kernel/cy/cy_b.ko", Module: dmMod([]string{"b_fn"}, []string{"a_fn"})},
		{RelPath: "kernel/cy/cy_c.ko", Module: dmMod([]string{"c_fn"}, []string{"d_fn"})},
		{RelPath: "kernel/cy/cy_d.ko", Module: dmMod([]string{"d_fn"}, []string{"e_fn"})},
		{RelPath: "kernel/cy/cy_e.ko", Module: dmMod([]string{"e_fn"}, []string{"c_fn"})},
		{RelPath: "kernel/cy/cy_f.ko", Module: dmMod(nil, []string{"c_fn"})},
		{RelPath: "kernel/cy/cy_g.ko", Module: dmMod([]string{"g_fn"}, nil)},
		{RelPath: "kernel/cy/cy_h.ko", Module: dmMod(nil, []string{"g_fn"})},
	}}
	cases = append(cases, depmodCase{name: "cycles", tree: cycles, runs: [][]string{{}, {"-n"}}})
	cases = append(cases, depmodCase{name: "cycle-pair", tree: &testmod.Tree{Modules: cycles.Modules[:2:2]}, runs: [][]string{{}, {"-n"}}})

	// kmod's testsuite, test-depmod/detect-loop: its mod-loop-a..k
	// modules, each exporting printX and calling what the testsuite's
	// source calls. kmod reports the cycles from a module its hash table
	// picks, so stderr is compared line for line, in order. The first
	// tree is the testsuite's old rootfs (a..e), the second its newer
	// one; "a -> b -> c -> a" and "h -> i -> j -> h" with "j -> k -> h"
	// share modules, which the report must not count twice.
	loop := func(x string, calls ...string) testmod.TreeModule {
		var uses []string
		for _, c := range calls {
			uses = append(uses, "print"+strings.ToUpper(c))
		}
		return testmod.TreeModule{RelPath: "kernel/mod-loop-" + x + ".ko", Module: dmMod([]string{"print" + strings.ToUpper(x)}, uses, "license=LGPL")}
	}
	loops := []testmod.TreeModule{
		loop("a", "b", "f", "g"), loop("b", "c", "f", "g"), loop("c", "a"), loop("d", "e"), loop("e", "d"),
		loop("f"), loop("g"), loop("h", "i"), loop("i", "j"), loop("j", "h", "k"), loop("k", "h"),
	}
	cases = append(cases, depmodCase{name: "kmod-detect-loop", tree: &testmod.Tree{Modules: loops[:5:5], OmitOrder: true}, runs: [][]string{{}, {"-n"}}})
	cases = append(cases, depmodCase{name: "kmod-detect-loop-h-k", tree: &testmod.Tree{Modules: loops, OmitOrder: true}, runs: [][]string{{}, {"-n"}}})
	cases = append(cases, depmodCase{name: "kmod-detect-loop-ordered", tree: &testmod.Tree{Modules: loops}})
	// kmod's testsuite, test-depmod/search-order-same-prefix and
	// -prefix2: directories whose names share a prefix, without and with
	// a search line; and modules-order-compressed: gzip-compressed
	// modules that modules.order names by their .ko names, with aliases
	// in common.
	simple := func(dir string) testmod.TreeModule {
		return testmod.TreeModule{RelPath: dir + "/mod-simple.ko", Module: dmMod(nil, nil, "license=LGPL", "description=dummy test module")}
	}
	cases = append(cases, depmodCase{name: "kmod-search-order-same-prefix", tree: &testmod.Tree{Modules: []testmod.TreeModule{simple("foo"), simple("foobar")}, OmitOrder: true}})
	cases = append(cases, depmodCase{name: "kmod-search-order-same-prefix2", tree: &testmod.Tree{Modules: []testmod.TreeModule{
		{RelPath: "foo/md5.ko", Module: dmMod([]string{"md5_fn"}, nil, testmod.Alias("crypto-md5"))},
		{RelPath: "foobar/md5.ko.gz", Module: dmMod([]string{"md5_fn"}, nil, testmod.Alias("crypto-md5"))},
	}, OmitOrder: true}, conf: map[string]string{"depmod.d/search.conf": "search foo foobar built-in\n"}})
	// check-weakdep: mod-weakdep's MODULE_WEAKDEP("mod-simple"), which
	// kmod 34 writes to modules.weakdep and kmod 30 ignores.
	cases = append(cases, depmodCase{name: "kmod-check-weakdep", tree: &testmod.Tree{Modules: []testmod.TreeModule{
		simple("kernel"),
		{RelPath: "kernel/mod-weakdep.ko", Module: dmMod(nil, nil, "author=Jose Ignacio Tornos Martinez <jtornosm@redhat.com>", "license=LGPL", testmod.Weakdep("mod-simple"))},
	}}, runs: [][]string{{}, {"-n"}}})
	ccissAlias := "pci:v0000103Cd00003230sv0000103Csd0000323Dbc*sc*i*"
	cases = append(cases, depmodCase{name: "kmod-modules-order-compressed", tree: &testmod.Tree{Modules: []testmod.TreeModule{
		{RelPath: "kernel/drivers/block/cciss.ko.gz", Module: dmMod(nil, []string{"scsi_fn"}, a(ccissAlias, "pci:v00000E11d00000046sv00000E11sd00004091bc*sc*i*")...)},
		{RelPath: "kernel/drivers/scsi/hpsa.ko.gz", Module: dmMod(nil, []string{"scsi_fn"}, a(ccissAlias, "pci:v0000103Cd0000323Asv0000103Csd00003241bc*sc*i*")...)},
		{RelPath: "kernel/drivers/scsi/scsi_mod.ko.gz", Module: dmMod([]string{"scsi_fn"}, nil, a("scsi-mod")...)},
	}, Order: []string{"kernel/drivers/scsi/scsi_mod.ko", "kernel/drivers/block/cciss.ko", "kernel/drivers/scsi/hpsa.ko"}}})

	// Shapes that show how kmod picks the module a cycle is reported
	// from: its list of roots starts again after each module taken out
	// of it; a module reached from a cycle but outside it is reported on
	// its own when its turn as a root comes.
	for _, sc := range []struct {
		name string
		mods []testmod.TreeModule
	}{
		{"cycles-rotation", []testmod.TreeModule{loop("a", "b"), loop("b", "c"), loop("c", "a"), loop("h", "i"), loop("i", "j"), loop("j", "h")}},
		{"cycles-rotation-2", []testmod.TreeModule{loop("a", "b"), loop("b", "c"), loop("c", "a"), loop("i", "j"), loop("j", "k"), loop("k", "i")}},
		{"cycles-shared", []testmod.TreeModule{loop("a", "b"), loop("b", "c"), loop("c", "a"), loop("h", "j"), loop("j", "h", "k"), loop("k", "h")}},
		{"cycle-branch", []testmod.TreeModule{loop("a", "b", "c"), loop("b", "a"), loop("c", "d"), loop("d")}},
	} {
		cases = append(cases, depmodCase{name: sc.name, tree: &testmod.Tree{Modules: sc.mods, OmitOrder: true}, runs: [][]string{{"-n"}}})
	}

	// softdep and weakdep modinfo, devname aliases.
	sd := &testmod.Tree{Modules: []testmod.TreeModule{
		{RelPath: "kernel/s/sd1.ko", Module: dmMod(nil, nil, testmod.Softdep("pre: sd2 post: sd3"), testmod.Softdep("pre: crc32c"), testmod.Alias("sd-one"))},
		{RelPath: "kernel/s/sd2.ko", Module: dmMod(nil, nil, testmod.Weakdep("sd3"), testmod.Softdep("post:sd1"))},
		{RelPath: "kernel/s/sd3.ko.xz", Module: dmMod(nil, nil, testmod.Weakdep("sd1"), testmod.Weakdep("sd2"))},
		{RelPath: "kernel/d/fuse.ko", Module: dmMod(nil, nil, a("devname:fuse", "char-major-10-229", "fs-fuse")...)},
		{RelPath: "kernel/d/loop.ko", Module: dmMod(nil, nil, a("char-major-10-237", "block-major-7-*", "devname:loop-control")...)},
		{RelPath: "kernel/d/nomajor.ko", Module: dmMod(nil, nil, a("devname:nomajor")...)},
		{RelPath: "kernel/d/majoronly.ko", Module: dmMod(nil, nil, a("char-major-99-1")...)},
		{RelPath: "kernel/d/two.ko", Module: dmMod(nil, nil, a("char-major-10-1", "block-major-8-0", "devname:two", "devname:second")...)},
		{RelPath: "kernel/d/bad-num.ko", Module: dmMod(nil, nil, a("devname:badnum", "char-major-x-1", "block-major-4294967296-5")...)},
		{RelPath: "kernel/d/sub/dir.ko.zst", Module: dmMod(nil, nil, a("devname:sub/dir", "block-major-259-0")...)},
	}}
	cases = append(cases, depmodCase{name: "softdep-devname", tree: sd, runs: [][]string{{}, {"-n"}}})
	cases = append(cases, depmodCase{name: "no-devnames", tree: &testmod.Tree{Modules: sd.Modules[:3:3]}})

	// modules.builtin and modules.builtin.modinfo: aliases of builtin
	// modules, odd records, an invalid line, brackets.
	cases = append(cases, depmodCase{name: "builtin", tree: &testmod.Tree{
		Modules: []testmod.TreeModule{
			{RelPath: "kernel/b/loaded.ko", Module: dmMod(nil, nil, a("ext3", "loaded")...)},
		},
		Builtin: []string{"kernel/fs/ext4/ext4.ko", "kernel/drivers/bi-one.ko", "/bad/line.ko", "kernel/x/y.ko.xz", "kernel/b/loaded.ko", "kernel/fs/ext4/ext4.ko", "9p.ko"},
		BuiltinModinfo: []string{
			"ext4.alias=fs-ext4", "ext4.alias=ext3", "ext4.license=GPL", "ext4.alias=ext2",
			"bi_one.alias=bi[12]*", "bi_one.alias=bad[bracket", "bi_one.alias=bad]bracket", "bi_one.param=x",
			"noalias.license=GPL", "weird=1", "dots.in.name.alias=dotted", "empty.alias=", "y.alias=fs-shared", "ext4.alias=fs-shared",
			"dash-mod.alias=with-dash",
		},
	}})
	cases = append(cases, depmodCase{name: "builtin-missing", tree: &testmod.Tree{
		Modules:   []testmod.TreeModule{{RelPath: "kernel/b/m.ko", Module: dmMod(nil, nil, a("m")...)}},
		OmitOrder: true, OmitBuiltin: true, OmitBuiltinModinfo: true,
	}})
	cases = append(cases, depmodCase{name: "builtin-unterminated", tree: &testmod.Tree{
		Modules:     []testmod.TreeModule{{RelPath: "kernel/b/m.ko", Module: dmMod(nil, nil, a("m")...)}},
		OmitBuiltin: true, OmitBuiltinModinfo: true,
		Files: map[string][]byte{
			"lib/modules/" + dmRelease + "/modules.builtin":         []byte("kernel/a/one.ko\nkernel/b/two.ko"),
			"lib/modules/" + dmRelease + "/modules.builtin.modinfo": []byte("one.alias=first\x00\x00two.alias=second\x00three.alias=unterminated"),
		},
	}})

	// No modules at all.
	cases = append(cases, depmodCase{name: "empty", tree: &testmod.Tree{}, runs: [][]string{{}, {"-n"}}})
	cases = append(cases, depmodCase{name: "empty-no-inputs", tree: &testmod.Tree{OmitOrder: true, OmitBuiltin: true, OmitBuiltinModinfo: true}})

	// Aliases with brackets: kmod writes them to modules.alias as they
	// are, and warns and leaves out of the index the unmatched ones.
	cases = append(cases, depmodCase{name: "alias-brackets", tree: &testmod.Tree{Modules: []testmod.TreeModule{
		{RelPath: "kernel/br/br1.ko", Module: dmMod(nil, nil, a("foo[bar", "pci:v0000[0-9]*d*", "x[]]y", "a]b", "dash-es-[a-c]-x", "[!a-z]neg", "plain-alias", "trail[")...)},
		{RelPath: "kernel/br/br2.ko", Module: dmMod(nil, nil, a("plain-alias", "plain_alias", "foo[bar", "sp ace")...)},
	}}, runs: [][]string{{}, {"-w"}, {"-n"}}})

	// Odd files: links to a file and to a directory outside the module
	// directory, a FIFO, files that are not ELF, an empty one, a
	// directory named like a module.
	cases = append(cases, depmodCase{name: "odd-files", tree: &testmod.Tree{
		Modules: []testmod.TreeModule{
			{RelPath: "kernel/odd/real.ko", Module: dmMod([]string{"real_fn"}, nil, a("real")...)},
			{RelPath: "kernel/odd/user.ko", Module: dmMod(nil, []string{"real_fn", "outside_fn"})},
			{RelPath: "kernel/odd/dir.ko/inner.ko", Module: dmMod(nil, nil, a("inner")...)},
		},
		Files: map[string][]byte{
			"lib/modules/" + dmRelease + "/kernel/odd/junk.ko":     []byte("this is not an ELF file\n"),
			"lib/modules/" + dmRelease + "/kernel/odd/empty.ko":    nil,
			"lib/modules/" + dmRelease + "/kernel/odd/badxz.ko.xz": []byte("not xz data"),
			"outside/out.ko": dmImage(t, "out", dmMod([]string{"outside_fn"}, nil, testmod.Alias("outside")), testmod.None),
		},
	}, setup: func(t *testing.T, root, moddir string) {
		t.Helper()
		odd := filepath.Join(moddir, "kernel/odd")
		if err := os.Symlink("real.ko", filepath.Join(odd, "link.ko")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(root, "outside"), filepath.Join(odd, "linked-dir")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("nosuch.ko", filepath.Join(odd, "dangling.ko")); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mkfifo", filepath.Join(odd, "fifo.ko")).CombinedOutput(); err != nil {
			t.Fatalf("mkfifo: %v\n%s", err, out)
		}
	}, runs: [][]string{{}, {"-e", "-F", "/dev/null"}}})

	// A symbol prefix (-P): exports and imports with a leading '_'.
	sysmapP := "ffffffff81000000 R ___ksymtab_pfx_kernel\nffffffff81000000 R __ksymtab_plain\n"
	cases = append(cases, depmodCase{name: "symbol-prefix", tree: &testmod.Tree{
		Modules: []testmod.TreeModule{
			{RelPath: "kernel/p/p1.ko", Module: dmMod([]string{"_pfx_fn", "plain_fn", "__double"}, nil)},
			{RelPath: "kernel/p/p2.ko", Module: dmMod(nil, []string{"_pfx_fn", "_plain_fn", "_double", "_pfx_kernel", "pfx_unknown"})},
			{RelPath: "kernel/p/p3.ko", Module: dmMod([]string{"pfx_fn"}, []string{"__double"})},
		},
		Files: map[string][]byte{"System.map": []byte(sysmapP)},
	}, runs: [][]string{{"-P", "_"}, {}, {"-P", "_", "-e", "-F", "@ROOT@/System.map"}, {"--symbol-prefix=_", "-n"}}})

	// Modules of other ELF classes and byte orders, and old-style
	// absolute CRCs.
	cases = append(cases, depmodCase{name: "elf-classes", tree: &testmod.Tree{Modules: []testmod.TreeModule{
		{RelPath: "kernel/c/c64.ko", Module: &testmod.Module{Exports: []string{"c64_fn"}, ExportStyle: testmod.ExportAbsCRC, ModInfo: a("c64")}},
		{RelPath: "kernel/c/c32.ko", Module: &testmod.Module{Class: testmod.ELF32LSB, Exports: []string{"c32_fn"}, Uses: []string{"c64_fn"}, ModInfo: a("c32")}},
		{RelPath: "kernel/c/cbe.ko", Module: &testmod.Module{Class: testmod.ELF64MSB, Exports: []string{"cbe_fn"}, Uses: []string{"c32_fn"}, ExportStyle: testmod.ExportKcrctab, ModInfo: a("cbe")}},
		{RelPath: "kernel/c/plain.ko", Module: &testmod.Module{Exports: []string{"plain_fn"}, ExportNamespace: "NS_X", Uses: []string{"cbe_fn"}}},
		{RelPath: "kernel/c/nsuser.ko", Module: &testmod.Module{Uses: []string{"plain_fn", "NS_X"}, ModInfo: []string{testmod.ImportNS("NS_X")}}},
	}}, runs: [][]string{{}, {"-e", "-E", "/dev/null"}}})

	return cases
}
