package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

// This file compares gokmod modprobe with Debian's kmod modprobe on
// synthetic module trees that exercise the rules of name resolution,
// configuration and the probe list. Every case runs both programs with the
// same arguments and requires the same stdout, stderr and exit status.

const synthRelease = "9.9.9-synth"

func mod(name string, info []string, exports, uses []string) *testmod.Module {
	return &testmod.Module{
		ModInfo: append(info, testmod.StandardModInfo(name, testmod.DefaultVermagic(synthRelease))...),
		Exports: exports,
		Uses:    uses,
	}
}

// synthTree is a tree that covers the lookup chain: a dependency chain
// mod-dash -> mod_c -> mod_b -> mod_a, several modules sharing aliases,
// wildcard aliases with '/' and brackets, softdeps from modinfo, a loop,
// compressed modules and builtin modules.
func synthTree() *testmod.Tree {
	a := testmod.Aliases
	return &testmod.Tree{
		Release: synthRelease,
		Modules: []testmod.TreeModule{
			{RelPath: "kernel/drivers/x/mod_x.ko", Module: mod("mod_x", a("fs-foo", "pci:v*d00005678sv*sd*bc*sc*i*", "wild-[0-9]-x"), nil, nil)},
			{RelPath: "kernel/drivers/a/mod_a.ko", Module: mod("mod_a", a("fs-foo", "fs-f*", "dmi*:svnACME*:pvr*", "platform:mod-a*", "char-major-10-200", "net-pf-[1-3]-proto-1", "abc[!0-9]z"), []string{"a_fn", "a_fn2"}, nil)},
			{RelPath: "kernel/drivers/b/mod_b.ko.xz", Module: mod("mod_b", a("pci:v00001234d0000ABCDsv*sd*bc*sc*i*", "mod-b-alias", "fs-foo"), []string{"b_fn"}, []string{"a_fn"})},
			{RelPath: "kernel/drivers/c/mod_c.ko.zst", Module: mod("mod_c", a("usb:v1234p5678d*dc*dsc*dp*ic*isc*ip*in*", "pci:v00001234d00005678sv*sd*bc*sc*i*"), []string{"c_fn"}, []string{"b_fn"})},
			{RelPath: "kernel/drivers/d/mod-dash.ko", Module: mod("mod_dash", a("of:N*T*Ctestmod,dash", "acpi*:TEST0001:*", "dash[-_]x"), nil, []string{"c_fn"})},
			{RelPath: "kernel/drivers/s/mod_soft.ko", Module: mod("mod_soft", []string{testmod.Softdep("pre: mod_x post: mod-dash")}, nil, nil)},
			{RelPath: "kernel/drivers/s/mod_softgap.ko", Module: mod("mod_softgap", []string{testmod.Softdep("mod_a pre: mod_b post: mod_c pre: mod_x")}, nil, nil)},
			{RelPath: "kernel/drivers/l/mod_loop_a.ko", Module: mod("mod_loop_a", nil, nil, []string{"loop_b_fn"})},
			{RelPath: "kernel/drivers/l/mod_loop_b.ko", Module: mod("mod_loop_b", nil, []string{"loop_b_fn"}, nil)},
			{RelPath: "kernel/drivers/i/mod_inst.ko", Module: mod("mod_inst", a("inst-alias"), nil, nil)},
			{RelPath: "kernel/drivers/i/mod_instsoft.ko", Module: mod("mod_instsoft", nil, nil, nil)},
			{RelPath: "kernel/drivers/m/mod_multi.ko", Module: mod("mod_multi", a("multi:*", "multi:a*", "multi:ab*"), nil, []string{"a_fn2"})},
			{RelPath: "kernel/drivers/m/mod_sym.ko", Module: mod("mod_sym", nil, []string{"sym_only"}, nil)},
		},
		Builtin: []string{"kernel/fs/ext4/ext4.ko", "kernel/drivers/bi/bi-one.ko", "kernel/drivers/x/mod_x.ko"},
		BuiltinModinfo: []string{
			"ext4.alias=fs-ext4", "ext4.alias=ext3", "ext4.license=GPL",
			"bi_one.alias=bi-alias*", "bi_one.alias=fs-foo",
			// Builtin aliases all have priority 0: a shared one shows the
			// value order of the two index readers of libkmod.
			"ext4.alias=fs-shared", "bi_one.alias=fs-shared", "mod_x.alias=fs-shared",
		},
	}
}

// synthConfig is the modprobe.d configuration used with synthTree: two
// directories, so that precedence across them is exercised.
var synthConfig = map[string]string{
	"c1/10-main.conf": `# main configuration
alias mod_a mod_c
options mod_a from_alias=1
alias myalias mod-b
alias wild* mod_x
alias wild*  mod_a
alias nothing deaddood
options mod-b  opt=1	tab=2
options mod_b second=2
options mod_dash dash_opt="a b"
install mod_inst /bin/echo installing $CMDLINE_OPTS
install nomod /bin/true
remove rmonly /bin/true
install mod_instsoft /bin/false
softdep mod_instsoft pre: mod_x
blacklist mod_x
blacklist mod-b
softdep mod_c pre: mod_b
softdep mod_c post: mod_x
softdep mod_loop_b post: mod_loop_a
softdep mod_multi pre: multi:abc bi-one post: nothing
foo bar
alias bad[ mod_a
options
include /etc/other.conf
alias cont\
inued mod_a
options mod_sym   lead=1
`,
	"c1/20-late.conf":   "softdep mod_x pre: mod_a\n",
	"c2/05-first.conf":  "alias early mod_sym\n	options mod_sym from_c2=1\n",
	"c2/10-main.conf":   "alias shadowed mod_a\n",
	"c2/not-a-conf.txt": "alias ignored mod_a\n",
	"c2/.hidden.conf":   "alias hidden mod_a\n",
}

// buildSynth writes the tree and configuration under a temporary root and
// indexes it with kmod's depmod. It returns the root and the config dirs.
func buildSynth(t *testing.T, tree *testmod.Tree, conf map[string]string) (root string, confDirs []string) {
	t.Helper()
	testmod.RequireTool(t, "depmod")
	testmod.RequireTool(t, "modprobe")
	root = t.TempDir()
	if _, err := tree.Write(root); err != nil {
		t.Fatal(err)
	}
	// depmod warns about a missing modules.builtin; that is expected
	// for trees that leave it out on purpose.
	var te *testmod.ToolError
	if err := testmod.RunDepmod(context.Background(), root, tree.Release); err != nil && !(errors.As(err, &te) && te.ExitCode == 0) {
		t.Fatal(err)
	}
	dirs := map[string]bool{}
	for name, content := range conf {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := strings.SplitN(name, "/", 2)[0]
		dirs[dir] = true
	}
	for _, d := range []string{"c1", "c2", "c3"} {
		if dirs[d] {
			confDirs = append(confDirs, filepath.Join(root, d))
		}
	}
	return root, confDirs
}

// synthNames are the names every mode is asked about.
var synthNames = []string{
	"mod_a", "mod-a", "mod_b", "mod-b", "mod_c", "mod-dash", "mod_dash", "mod_x", "mod_soft", "mod_softgap",
	"mod_loop_a", "mod_loop_b", "mod_inst", "mod_instsoft", "mod_multi", "mod_sym", "inst-alias",
	"fs-foo", "fs_foo", "fs-fat", "myalias", "wildcard", "wild", "nothing", "nomod", "rmonly",
	"pci:v00001234d00005678sv00000001sd00000002bc03sc00i00",
	"pci:v0000AAAAd00005678sv0sd0bc0sc0i0",
	"pci:v00001234d0000ABCDsv1sd2bc3sc4i5",
	"usb:v1234p5678d0100dc00dsc00dp00ic03isc01ip02in00",
	"dmi:bvnX:bvrY:svnACME Corp/Sub:pvrT/1:rvn",
	"platform:mod-a/extra/path", "char-major-10-200", "char_major_10_200",
	"net-pf-2-proto-1", "net-pf-4-proto-1", "abcyz", "abc5z", "wild-3-x", "wild-a-x",
	"dash-x", "dash_x", "of:NfooTbarCtestmod,dash", "acpi:TEST0001:", "acpiX:TEST0001:more",
	"multi:abc", "multi:b", "symbol:a_fn", "symbol:c_fn", "symbol:sym_only", "symbol:nosuch",
	"ext4", "fs-ext4", "fs-shared", "ext3", "bi-one", "bi_one", "bi-alias-1", "early", "shadowed", "continued",
	"ignored", "hidden", "unknown_module", "bad[", "x]y", "[a-b]", "",
}

func synthBase(root string, confDirs []string) []string {
	args := []string{"-d", root, "-S", synthRelease}
	for _, d := range confDirs {
		args = append(args, "-C", d)
	}
	return args
}

func TestDifferentialSynthetic(t *testing.T) {
	forEachKmod(t, "modprobe", func(t *testing.T, k kmodRef) {
		root, confDirs := buildSynth(t, synthTree(), synthConfig)
		base := synthBase(root, confDirs)
		same, total := 0, 0
		check := func(args []string, vars map[string]string) {
			total++
			if k.compare(t, "modprobe", append(append([]string{}, base...), args...), vars) {
				same++
			}
		}
		for _, n := range synthNames {
			check([]string{"-D", n}, nil)
			check([]string{"-R", n}, nil)
			check([]string{"-n", "-v", n}, nil)
			check([]string{"-D", "-b", n}, nil)
			check([]string{"-D", "-i", n}, nil)
			check([]string{"-q", "-D", n}, nil)
		}
		for _, args := range [][]string{
			{"-c"},
			{"--showconfig", "ignored-arg"},
			{"-D", "mod_a", "p=1", "b=x y", "c='q r'", `d="s t"`, "e", "=f g"},
			{"-D", "mod-b", "extra=1"},
			{"-D", "mod_inst", "x=1", "y=2 3"},
			{"-D", "-a", "mod_a", "unknown_module", "mod-b"},
			{"-D", "-a", "-q", "mod_a", "unknown_module"},
			{"-R", "-a", "fs-foo", "myalias", "nope"},
			{"-D"},
			{},
			{"-q"},
			{"-D", "--", "-mod"},
			{"--show-dep", "mod_c"},
			{"--sh", "mod_c"},
			{"--show-depends=x", "mod_c"},
			{"-Z", "mod_c"},
			{"mod_c", "-D", "-v"},
			{"-vD", "mod_c"},
			{"-w", "12x", "-r", "mod_c"},
			{"-n", "--first-time", "-v", "mod_c"},
			{"-D", "--first-time", "mod_c"},
		} {
			check(args, nil)
		}
		for _, opts := range []string{"-D", "-D -v", `"-D" -v`, "-D  -v", " -D", `-D -v "-C` + confDirs[0] + `"`, `-D 'mod_a`} {
			check([]string{"mod_c"}, map[string]string{"MODPROBE_OPTIONS": opts})
		}
		t.Logf("synthetic tree: %d/%d modprobe invocations identical to %s", same, total, k.compat)
	})
}

// TestDifferentialReinsertOrder covers a tree without modules.builtin:
// kmod's depmod then writes an empty modules.builtin.bin, libkmod fails to
// load its indexes up front and reads each index per lookup, which orders
// values of equal priority differently.
func TestDifferentialReinsertOrder(t *testing.T) {
	forEachKmod(t, "modprobe", func(t *testing.T, k kmodRef) {
		tree := synthTree()
		tree.OmitBuiltin = true
		root, confDirs := buildSynth(t, tree, synthConfig)
		base := synthBase(root, confDirs)
		same, total := 0, 0
		for _, n := range synthNames {
			for _, mode := range [][]string{{"-D"}, {"-R"}} {
				total++
				if k.compare(t, "modprobe", append(append(append([]string{}, base...), mode...), n), nil) {
					same++
				}
			}
		}
		total++
		if k.compare(t, "modprobe", append(append([]string{}, base...), "-c"), nil) {
			same++
		}
		t.Logf("tree without modules.builtin: %d/%d identical to %s", same, total, k.compat)
	})
}
