package testmod_test

// These tests run Debian 12's real kmod 30 tools against trees written by
// this package. They fail (not skip) when the tools are missing and CI=true.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

// requireKmod returns the features of the installed kmod, failing or
// skipping (see RequireTool) when depmod, modinfo or modprobe is missing.
func requireKmod(t *testing.T) map[string]bool {
	t.Helper()
	for _, tool := range []string{"depmod", "modinfo", "modprobe"} {
		testmod.RequireTool(t, tool)
	}
	feats, err := testmod.ToolFeatures(context.Background(), "depmod")
	if err != nil {
		t.Fatal(err)
	}
	return feats
}

// lines splits text into lines without the trailing empty one.
func lines(text string) []string {
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}

func assertLines(t *testing.T, what, got string, want []string) {
	t.Helper()
	if g := lines(got); !slices.Equal(g, want) {
		t.Errorf("%s:\ngot:\n%s\nwant:\n%s", what, strings.Join(g, "\n"), strings.Join(want, "\n"))
	}
}

// buildFixture writes the fixture tree and runs the real depmod on it.
func buildFixture(t *testing.T) (root, dir string, feats map[string]bool, tree *testmod.Tree) {
	t.Helper()
	feats = requireKmod(t)
	root = t.TempDir()
	tree = fixtureTree()
	dir, err := tree.Write(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := testmod.RunDepmod(context.Background(), root, tree.Release); err != nil {
		t.Fatalf("depmod: %v", err)
	}
	return root, dir, feats, tree
}

func TestRealDepmodIndexesTree(t *testing.T) {
	_, dir, feats, _ := buildFixture(t)
	// Debian's kmod 30 is built without zlib: its depmod does not even
	// look at .ko.gz files.
	gz := feats["ZLIB"]

	wantDep := []string{
		"kernel/x/mod_a.ko:",
		"kernel/x/mod_b.ko.xz: kernel/x/mod_a.ko",
		"kernel/x/mod_c.ko.zst: kernel/x/mod_b.ko.xz kernel/x/mod_a.ko",
		"kernel/x/mod-dash.ko: kernel/x/mod_c.ko.zst kernel/x/mod_b.ko.xz kernel/x/mod_a.ko",
		// The weak use of a_fn2 is a dependency; the unresolved weak
		// use is silently dropped.
		"kernel/y/mod_soft.ko: kernel/x/mod_a.ko",
	}
	if gz {
		wantDep = append(wantDep, "kernel/y/mod_gz.ko.gz:")
	}
	wantDep = append(wantDep, "kernel/y/mod_ns.ko:")
	assertLines(t, "modules.dep", readFile(t, filepath.Join(dir, "modules.dep")), wantDep)

	wantAlias := []string{
		"# Aliases extracted from modules themselves.",
		"alias mod-a-alias mod_a",
		"alias platform:mod-a* mod_a",
		"alias pci:v00001234d0000ABCDsv*sd*bc*sc*i* mod_b",
		"alias usb:v1234p5678d*dc*dsc*dp*ic*isc*ip*in* mod_c",
		"alias of:N*T*Ctestmod,dash mod_dash",
		"alias acpi*:TEST0001:* mod_dash",
	}
	if gz {
		wantAlias = append(wantAlias, "alias gz-alias mod_gz")
	}
	wantAlias = append(wantAlias, "alias devname:testmod-ns mod_ns", "alias char-major-10-250 mod_ns")
	assertLines(t, "modules.alias", readFile(t, filepath.Join(dir, "modules.alias")), wantAlias)

	// modules.symbols comes from a hash table: compare sorted. mod_b's
	// namespace is invisible because kmod reads its __crc_ symbols; mod_ns
	// has no CRCs, so kmod falls back to __ksymtab_strings and takes the
	// namespace name for an exported symbol too.
	wantSyms := []string{
		"alias symbol:TESTMOD_NS mod_ns",
		"alias symbol:a_fn mod_a",
		"alias symbol:a_fn2 mod_a",
		"alias symbol:b_fn mod_b",
		"alias symbol:c_fn mod_c",
		"alias symbol:ns_fn mod_ns",
	}
	if gz {
		wantSyms = append(wantSyms, "alias symbol:gz_fn mod_gz")
		slices.Sort(wantSyms)
	}
	gotSyms := lines(readFile(t, filepath.Join(dir, "modules.symbols")))
	if len(gotSyms) == 0 || gotSyms[0] != "# Aliases for symbols, used by symbol_request()." {
		t.Errorf("modules.symbols header: %q", gotSyms)
	} else {
		gotSyms = gotSyms[1:]
	}
	slices.Sort(gotSyms)
	if !slices.Equal(gotSyms, wantSyms) {
		t.Errorf("modules.symbols:\ngot  %q\nwant %q", gotSyms, wantSyms)
	}

	assertLines(t, "modules.softdep", readFile(t, filepath.Join(dir, "modules.softdep")), []string{
		"# Soft dependencies extracted from modules themselves.",
		"softdep mod_soft pre: mod_ns post: mod-dash",
	})
	assertLines(t, "modules.devname", readFile(t, filepath.Join(dir, "modules.devname")), []string{
		"# Device nodes to trigger on-demand module loading.",
		"mod_ns testmod-ns c10:250",
	})
	for _, bin := range []string{"modules.dep.bin", "modules.alias.bin", "modules.symbols.bin", "modules.builtin.bin", "modules.builtin.alias.bin"} {
		if fi, err := os.Stat(filepath.Join(dir, bin)); err != nil || fi.Size() == 0 {
			t.Errorf("%s missing or empty: %v", bin, err)
		}
	}
}

func TestRealModinfoReadsEveryModule(t *testing.T) {
	root, dir, feats, tree := buildFixture(t)
	ctx := context.Background()
	for _, tm := range tree.Modules {
		file := filepath.Join(dir, tm.RelPath)
		if strings.HasSuffix(tm.RelPath, ".gz") && !feats["ZLIB"] {
			// Without zlib, kmod does not treat the path as a module
			// file at all and looks it up as a module name.
			if _, err := testmod.RunModinfo(ctx, file); err == nil {
				t.Errorf("modinfo %s succeeded although kmod lacks zlib", tm.RelPath)
			}
			continue
		}
		for _, key := range []string{"alias", "vermagic", "softdep", "license", "parm", "name", "depends"} {
			got, err := testmod.RunModinfo(ctx, "-F", key, file)
			if err != nil {
				t.Errorf("modinfo -F %s %s: %v", key, tm.RelPath, err)
				continue
			}
			want := tm.Module.Info(key)
			if key == "parm" {
				// modinfo -F parm appends each parameter's type.
				for i, p := range want {
					name, _, _ := strings.Cut(p, ":")
					for _, pt := range tm.Module.Info("parmtype") {
						if n, typ, _ := strings.Cut(pt, ":"); n == name {
							want[i] += " (" + typ + ")"
						}
					}
				}
			}
			// One line per value, empty values included ("depends=").
			wantOut := ""
			if len(want) > 0 {
				wantOut = strings.Join(want, "\n") + "\n"
			}
			if got != wantOut {
				t.Errorf("modinfo -F %s %s = %q, want %q", key, tm.RelPath, got, wantOut)
			}
		}
	}

	// Lookup by name through the indexes, including a builtin module.
	got, err := testmod.RunModinfo(ctx, "-b", root, "-k", tree.Release, "-F", "filename", "mod-dash")
	if err != nil {
		t.Fatal(err)
	}
	assertLines(t, "modinfo -F filename mod-dash", got, []string{filepath.Join(dir, "kernel/x/mod-dash.ko")})
	got, err = testmod.RunModinfo(ctx, "-b", root, "-k", tree.Release, "-F", "alias", "ext4")
	if err != nil {
		t.Fatal(err)
	}
	assertLines(t, "modinfo -F alias ext4 (builtin)", got, []string{"fs-ext4"})
}

func TestRealModprobeShowDepends(t *testing.T) {
	root, dir, _, tree := buildFixture(t)
	ctx := context.Background()
	insmod := func(rel string) string { return "insmod " + filepath.Join(dir, rel) + " " }
	chain := []string{
		insmod("kernel/x/mod_a.ko"),
		insmod("kernel/x/mod_b.ko.xz"),
		insmod("kernel/x/mod_c.ko.zst"),
		insmod("kernel/x/mod-dash.ko"),
	}
	for _, name := range []string{"mod-dash", "mod_dash", "of:NfooTbarCtestmod,dash"} {
		got, err := testmod.RunModprobe(ctx, root, tree.Release, "--show-depends", name)
		if err != nil {
			t.Fatalf("modprobe --show-depends %s: %v", name, err)
		}
		assertLines(t, "modprobe --show-depends "+name, got, chain)
	}

	got, err := testmod.RunModprobe(ctx, root, tree.Release, "--show-depends",
		"pci:v00001234d0000ABCDsv00000001sd00000002bc02sc00i00")
	if err != nil {
		t.Fatal(err)
	}
	assertLines(t, "modprobe --show-depends pci alias", got, chain[:2])

	got, err = testmod.RunModprobe(ctx, root, tree.Release, "--show-depends", "fs-ext4")
	if err != nil {
		t.Fatal(err)
	}
	assertLines(t, "modprobe --show-depends fs-ext4", got, []string{"builtin ext4"})

	got, err = testmod.RunModprobe(ctx, root, tree.Release, "-R", "acpi:TEST0001:")
	if err != nil {
		t.Fatal(err)
	}
	assertLines(t, "modprobe -R acpi alias", got, []string{"mod_dash"})

	// The softdep from .modinfo reaches modprobe through modules.softdep:
	// mod_ns comes before mod_soft and the mod-dash chain after it.
	got, err = testmod.RunModprobe(ctx, root, tree.Release, "--show-depends", "mod_soft")
	if err != nil {
		t.Fatal(err)
	}
	l := lines(got)
	ns, soft, dash := slices.Index(l, insmod("kernel/y/mod_ns.ko")), slices.Index(l, insmod("kernel/y/mod_soft.ko")),
		slices.Index(l, insmod("kernel/x/mod-dash.ko"))
	if ns < 0 || soft < 0 || dash < 0 || !(ns < soft && soft < dash) || !slices.Contains(l[:soft], insmod("kernel/x/mod_a.ko")) {
		t.Errorf("modprobe --show-depends mod_soft: softdeps not honoured:\n%s", got)
	}
}

// TestRealDepmodChecksCRCs shows that kmod resolves the CRCs written for
// both CRC export styles and matches them against __versions.
func TestRealDepmodChecksCRCs(t *testing.T) {
	requireKmod(t)
	ctx := context.Background()
	root := t.TempDir()
	versions := func(extra ...testmod.VersionEntry) []testmod.VersionEntry {
		return append([]testmod.VersionEntry{{CRC: 0x11223344, Name: "module_layout"}}, extra...)
	}
	tree := &testmod.Tree{
		Release: "6.1.0-crc",
		Modules: []testmod.TreeModule{
			{RelPath: "kernel/exp_rel.ko", Module: &testmod.Module{Exports: []string{"rel_fn"},
				ExportStyle: testmod.ExportKcrctab, ExportCRCs: map[string]uint32{"rel_fn": 0xaaaa0001}, Versions: versions()}},
			{RelPath: "kernel/exp_abs.ko.xz", Module: &testmod.Module{Exports: []string{"abs_fn"},
				ExportStyle: testmod.ExportAbsCRC, ExportCRCs: map[string]uint32{"abs_fn": 0xbbbb0002}, Versions: versions()}},
			{RelPath: "kernel/user_ok.ko", Module: &testmod.Module{Uses: []string{"rel_fn", "abs_fn"},
				Versions: versions(testmod.VersionEntry{CRC: 0xaaaa0001, Name: "rel_fn"}, testmod.VersionEntry{CRC: 0xbbbb0002, Name: "abs_fn"})}},
			{RelPath: "kernel/user_bad.ko.zst", Module: &testmod.Module{Uses: []string{"rel_fn", "abs_fn"},
				Versions: versions(testmod.VersionEntry{CRC: 0xdead, Name: "rel_fn"}, testmod.VersionEntry{CRC: 0xbbbb0002, Name: "abs_fn"})}},
			{RelPath: "kernel/user_unknown.ko", Module: &testmod.Module{Uses: []string{"nobody_has_this"}, Versions: versions()}},
		},
		Files: map[string][]byte{"Module.symvers": []byte("0x11223344\tmodule_layout\tvmlinux\tEXPORT_SYMBOL\t\n")},
	}
	dir, err := tree.Write(root)
	if err != nil {
		t.Fatal(err)
	}
	symvers := filepath.Join(root, "Module.symvers")
	err = testmod.RunDepmod(ctx, root, tree.Release, "-e", "-E", symvers)
	var te *testmod.ToolError
	if !errors.As(err, &te) || te.ExitCode != 0 {
		t.Fatalf("depmod -e -E: want warnings with exit status 0, got %v", err)
	}
	wantWarnings := []string{
		"depmod: WARNING: " + filepath.Join(dir, "kernel/user_bad.ko.zst") + " disagrees about version of symbol rel_fn",
		"depmod: WARNING: " + filepath.Join(dir, "kernel/user_unknown.ko") + " needs unknown symbol nobody_has_this",
	}
	got := lines(te.Stderr)
	slices.Sort(got)
	if !slices.Equal(got, wantWarnings) {
		t.Errorf("depmod warnings:\ngot  %q\nwant %q", got, wantWarnings)
	}
	assertLines(t, "modules.dep", readFile(t, filepath.Join(dir, "modules.dep")), []string{
		"kernel/exp_rel.ko:",
		"kernel/exp_abs.ko.xz:",
		// Independent dependencies come out in kmod's topological order.
		"kernel/user_ok.ko: kernel/exp_abs.ko.xz kernel/exp_rel.ko",
		"kernel/user_bad.ko.zst: kernel/exp_abs.ko.xz kernel/exp_rel.ko",
		"kernel/user_unknown.ko:",
	})

	out, err := testmod.RunModprobe(ctx, root, tree.Release, "--dump-modversions", filepath.Join(dir, "kernel/user_bad.ko.zst"))
	if err != nil {
		t.Fatal(err)
	}
	assertLines(t, "modprobe --dump-modversions", out, []string{
		"0x11223344\tmodule_layout", "0x0000dead\trel_fn", "0xbbbb0002\tabs_fn",
	})
}

// TestRealKmodAcceptsEveryClass indexes 32-bit and big-endian modules.
func TestRealKmodAcceptsEveryClass(t *testing.T) {
	requireKmod(t)
	ctx := context.Background()
	for _, c := range allClasses() {
		t.Run(c.String(), func(t *testing.T) {
			exp, use := classModules(c)
			exp.Name, use.Name = "", "" // let Tree.Write name them
			root := t.TempDir()
			tree := &testmod.Tree{Release: "1.0-" + c.String(), Modules: []testmod.TreeModule{
				{RelPath: "kernel/exp.ko", Module: exp},
				{RelPath: "kernel/use.ko.xz", Module: use},
			}}
			dir, err := tree.Write(root)
			if err != nil {
				t.Fatal(err)
			}
			if err := testmod.RunDepmod(ctx, root, tree.Release); err != nil {
				t.Fatal(err)
			}
			assertLines(t, "modules.dep", readFile(t, filepath.Join(dir, "modules.dep")), []string{
				"kernel/exp.ko:", "kernel/use.ko.xz: kernel/exp.ko",
			})
			assertLines(t, "modules.symbols", readFile(t, filepath.Join(dir, "modules.symbols")), []string{
				"# Aliases for symbols, used by symbol_request().", "alias symbol:exp_fn exp",
			})
			out, err := testmod.RunModinfo(ctx, "-F", "alias", filepath.Join(dir, "kernel/use.ko.xz"))
			if err != nil {
				t.Fatal(err)
			}
			assertLines(t, "modinfo -F alias", out, []string{"use-" + c.String()})
			out, err = testmod.RunModprobe(ctx, root, tree.Release, "--dump-modversions", filepath.Join(dir, "kernel/use.ko.xz"))
			if err != nil {
				t.Fatal(err)
			}
			assertLines(t, "modprobe --dump-modversions", out, []string{"0xcafef00d\texp_fn", "0x01020304\tmodule_layout"})
		})
	}
}

func TestRunDepmodReportsStderr(t *testing.T) {
	requireKmod(t)
	root := t.TempDir()
	tree := &testmod.Tree{Release: "1.0", OmitOrder: true}
	if _, err := tree.Write(root); err != nil {
		t.Fatal(err)
	}
	err := testmod.RunDepmod(context.Background(), root, "1.0")
	var te *testmod.ToolError
	if !errors.As(err, &te) || te.ExitCode != 0 || !strings.Contains(te.Stderr, "could not open modules.order") ||
		!strings.Contains(err.Error(), "modules.order") {
		t.Errorf("RunDepmod without modules.order: %v", err)
	}
	err = testmod.RunDepmod(context.Background(), root, "no-such-release")
	if !errors.As(err, &te) || te.ExitCode == 0 || te.Stderr == "" {
		t.Errorf("RunDepmod on a missing release: %v", err)
	}
}

// TestDocExample runs the example from the package documentation.
func TestDocExample(t *testing.T) {
	ctx := context.Background()
	tree := &testmod.Tree{
		Release: "6.1.0-test",
		Modules: []testmod.TreeModule{
			{RelPath: "kernel/a.ko", Module: &testmod.Module{
				Exports: []string{"a_fn"},
				ModInfo: append(testmod.StandardModInfo("a", testmod.DefaultVermagic("6.1.0-test")),
					testmod.Alias("pci:v00008086d*sv*sd*bc*sc*i*"), testmod.License("GPL")),
			}},
			{RelPath: "kernel/b-mod.ko.xz", Module: &testmod.Module{
				Uses:    []string{"a_fn"},
				ModInfo: []string{testmod.Softdep("pre: a")},
			}},
		},
		Builtin:        []string{"kernel/fs/ext4/ext4.ko"},
		BuiltinModinfo: []string{"ext4.alias=fs-ext4"},
	}
	root := t.TempDir()
	dir, err := tree.Write(root)
	if err != nil {
		t.Fatal(err)
	}
	testmod.RequireTool(t, "depmod")
	if err := testmod.RunDepmod(ctx, root, tree.Release); err != nil {
		t.Fatal(err)
	}
	assertLines(t, "modules.dep", readFile(t, filepath.Join(dir, "modules.dep")),
		[]string{"kernel/a.ko:", "kernel/b-mod.ko.xz: kernel/a.ko"})
}
