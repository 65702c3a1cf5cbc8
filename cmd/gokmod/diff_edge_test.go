//go:build linux

package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe/internal/index"
	"github.com/gokmod/modprobe/internal/testmod"
)

// This file compares gokmod modprobe with Debian 12's kmod 30 modprobe on
// edge cases, in the dry-run and query modes only (-D, -R, -c, -n -v and
// the options that go with them): odd modprobe.d syntax and file layouts,
// alias patterns, multiple matches, builtin modules, broken and handmade
// indexes, module parameters, MODPROBE_OPTIONS and getopt oddities.
//
// TestDifferentialEdge holds the cases on which both programs agree, as
// regression tests. TestDifferentialEdgeDiffs holds one minimal case per
// difference found (and fixed). The differences gokmod keeps on purpose
// are tested in TestKnownDifferences.
//
// Every case passes kmod a dry-run flag (-D, -R, -c or -n) as a separate
// argument before anything else the case adds, so that no getopt oddity
// can make kmod load a module; runEdgeCases refuses cases without one.

const (
	edgeRelease  = "9.9.9-edge"
	edgeRelease2 = "9.9.9-edge2" // has a modules.weakdep
	edgeRelease3 = "9.9.9-edge3" // indexes written by hand
	edgeRelease4 = "9.9.9-edge4" // the same with a corrupt modules.alias.bin
	edgeRelease5 = "9.9.9-edge5" // the same without modules.builtin.alias.bin (optional)
	edgeRelease6 = "9.9.9-edge6" // the same without modules.symbols.bin
)

// edgeTree is a small tree with the odd corners the edge cases need.
func edgeTree() *testmod.Tree {
	a := testmod.Aliases
	m := func(name string, info []string, exports, uses []string) *testmod.Module {
		return &testmod.Module{
			ModInfo: append(info, testmod.StandardModInfo(name, testmod.DefaultVermagic(edgeRelease))...),
			Exports: exports,
			Uses:    uses,
		}
	}
	return &testmod.Tree{
		Release: edgeRelease,
		Modules: []testmod.TreeModule{
			{RelPath: "kernel/e/edge_a.ko", Module: m("edge_a", a("edge-alias", "pat[0-9]x", `lit\*x`, "multi-*", "bang[!a-c]z", "cls[[:digit:]]q", "q?z", "sp-[a-c-]x"), []string{"a_sym"}, nil)},
			{RelPath: "kernel/e/edge-b.ko", Module: m("edge_b", a("multi-*", "edge-alias", "eq[[=x=]]"), []string{"b_sym"}, []string{"a_sym"})},
			{RelPath: "kernel/e/edge_c.ko", Module: m("edge_c", a("multi-b*", "edge-alias"), nil, []string{"b_sym"})},
			{RelPath: "kernel/e/dot.ted.ko", Module: m("dot", a("dotted-alias"), nil, nil)},
			{RelPath: "kernel/e/edge_bi.ko", Module: m("edge_bi", nil, []string{"bi_sym"}, nil)},
			{RelPath: "kernel/e/edge_user.ko", Module: m("edge_user", nil, nil, []string{"bi_sym"})},
			{RelPath: "kernel/e/edge_gone.ko", Module: m("edge_gone", nil, []string{"gone_sym"}, nil)},
			{RelPath: "kernel/e/edge_needgone.ko", Module: m("edge_needgone", a("needgone-al"), nil, []string{"gone_sym"})},
			{RelPath: "kernel/e/edge_sd.ko", Module: m("edge_sd", []string{testmod.Softdep("pre: edge-alias nosuch post: bad[ edge_bi")}, nil, nil)},
			{RelPath: "kernel/e/edge_inst.ko", Module: m("edge_inst", a("inst-al"), nil, nil)},
			{RelPath: "kernel/e/edge_noorder.ko", Module: m("edge_noorder", a("multi-*", "order-*"), nil, nil)},
			{RelPath: "kernel/e/edge_order2.ko", Module: m("edge_order2", a("order-*"), nil, nil)},
			// Named like modules of the running kernel, whose /sys/module
			// directories have no initstate.
			{RelPath: "kernel/e/loop.ko", Module: m("loop", a("loop-alias"), nil, nil)},
			{RelPath: "kernel/e/kernel.ko", Module: m("kernel", a("kernel-alias"), nil, nil)},
		},
		Order: []string{
			"kernel/e/edge_c.ko", "kernel/e/edge_order2.ko", "kernel/e/edge_a.ko", "kernel/e/edge-b.ko", "kernel/e/dot.ted.ko",
			"kernel/e/edge_bi.ko", "kernel/e/edge_user.ko", "kernel/e/edge_gone.ko", "kernel/e/edge_needgone.ko",
			"kernel/e/edge_sd.ko", "kernel/e/edge_inst.ko", "kernel/e/not_there.ko",
		},
		Builtin: []string{"kernel/e/edge_bi.ko", "kernel/e/bi_only.ko", "kernel/e/bi-dash.ko"},
		BuiltinModinfo: []string{
			"bi_only.alias=bi-pat*", "bi_only.alias=edge-alias-bi", "bi_dash.alias=order-*",
		},
	}
}

// edgeFiles are the files written below the root after depmod ran; a
// value starting with "->" makes a symbolic link to the rest ('@' is the
// root), "DIR" makes a directory.
var edgeFiles = map[string]string{
	// The configuration most cases use.
	"conf/main/10-main.conf": "alias edge_al_cfg edge_a\n" +
		"alias pat* edge-b\n" +
		"options edge_a from_main=1\n" +
		"options edge_al_cfg via_alias=1\n" +
		"options pat* via_pattern=1\n" +
		"options edge_alias via_index_alias=1\n" +
		"install edge_ins* /bin/echo glob $CMDLINE_OPTS\n" +
		"install edge_user /bin/echo user\n" +
		"softdep edge_c pre: edge_al_cfg post: dotted-alias\n" +
		"blacklist edge_b\n",
	"conf/main/20-more.conf": "options edge_a second=2\n" +
		"options edge-b	tab=1\t \n",

	// Line syntax.
	"conf/syntax/00-crlf.conf": "alias crlf edge_a\r\noptions edge_a crlf=1\r\nblacklist edge_c\r\nsoftdep edge_noorder pre: dot\r\n",
	"conf/syntax/01-cont.conf": "al\\\nias contal edge_a\n" +
		"options edge_a \\\n  cont=1\n" +
		"alias x\\\\y edge_a\n" +
		"alias \\#hash edge_a\n" +
		"  # indented comment\n" +
		"\t\n" +
		"options edge_c q=\\\"v\\\"\n" +
		"alias mid\\dle edge_c\n" +
		"\\\n\n" +
		"options edge-b \\\n\\\n  two=2\n",
	"conf/syntax/02-nul.conf": "alias nul\x00hidden edge_a\nalias afternul edge_a\n\x00alias startnul edge_a\noptions edge_c nulopt=1\x00rest\n",
	"conf/syntax/03-long.conf": "options edge_order2 " + strings.Repeat("longopt=1234567 ", 700) + "end=1\n" +
		"alias " + strings.Repeat("L", 3000) + " edge_a\n",
	"conf/syntax/04-softdep.conf": "softdep edge_a  pre: dot\n" +
		"softdep edge-b pre: dot pre: edge_c post: edge_noorder post: dot\n" +
		"softdep edge_c pre:dot\n" +
		"softdep edge_noorder\tpre:\tdot\tpost:\t\tedge_order2 \n" +
		"softdep edge_order2 post:\n" +
		"softdep edge_sd pre: edge_al_cfg pat5x nothing-here\n" +
		"softdep edge_user post: edge_user\n",
	"conf/syntax/05-spaces.conf": "options   edge_noorder    lots=1   \n" +
		"install\tedge_order2\t\t/bin/true  x\n" +
		"alias\t\ttabbed\t\tedge_a\t\n" +
		"options edge_user \v\f\n",
	"conf/syntax/06-bad.conf": "alias onlyone\n" +
		"blacklist\n" +
		"options edge_a\n" +
		"options edge_a \n" +
		"options edge_a  \n" +
		"install edge_a\n" +
		"softdep edge_a\n" +
		"alias ]bad edge_a\n" +
		"alias ok[ edge_a\n" +
		"alias ok edge[\n" +
		"unknowncmd x\n" +
		"include /x\n" +
		"config y\n" +
		"remove\n" +
		"options mod-[a-b] x=1\n" +
		"alias\n" +
		"ALIAS upper edge_a\n",

	// Which files are read.
	"conf/files/b.conf":          "->/dev/null",
	"conf/files/c.conf":          "->@/nonexistent",
	"conf/files/d.conf":          "DIR",
	"conf/files/.e.conf":         "alias hidden edge_a\n",
	"conf/files/f.conf~":         "alias backup edge_a\n",
	"conf/files/g.conf":          "alias fromg edge_a\n",
	"conf/files/h.conf":          "->@/conf/real.txt",
	"conf/files/conf":            "alias bare edge_a\n",
	"conf/files/.conf":           "alias dotconf edge_a\n",
	"conf/files/x.CONF":          "alias upperconf edge_a\n",
	"conf/files/i.conf.conf":     "alias double edge_a\n",
	"conf/files/j.conf":          "alias fromj edge_a\n",
	"conf/real.txt":              "alias fromlink edge_a\n",
	"conf/dup1/10-dup.conf":      "alias dup edge_a\n",
	"conf/dup2/10-dup.conf":      "alias dup edge-b\n",
	"conf/dup2/05-x.conf":        "alias dupx edge_c\n",
	"conf/single.txt":            "alias single edge_c\n",
	"conf/zz/modules.softdep":    "alias fakesoftdep edge_a\n",
	"conf/zz/modules.weakdep":    "alias fakeweakdep edge_a\n",
	"conf/sdorder/00-early.conf": "softdep edge_sd pre: dot\n",
	"conf/sdorder/zz-late.conf":  "softdep edge_sd pre: edge_c\n",
	"conf/dotalias/a.alias":      "alias fromdotalias edge_a\n",
	"conf/dotalias/b.conf":       "alias fromconf edge_a\n",
	"conf/weak/w.conf":           "weakdep edge_a edge-b\nalias afterweak edge_a\n",
	"conf/eofbs/e.conf":          "alias eofbs edge_a\\",
	"conf/eofbs2/e.conf":         "alias eofbs edge_a\n\\",
	"conf/eofbs3/e.conf":         "options edge_a eof=1 \\",
	"conf/crafted/c.conf":        "softdep top pre: other\nsoftdep m1 pre: shared_al\noptions shared_al s=1\n",
	"conf/brackets/b.conf": "alias br[a-c]x edge_a\n" +
		"alias neg[!a-c]y edge_a\n" +
		"alias esc\\\\*z edge_a\n" +
		"alias esc2\\*w edge_a\n" +
		"alias cls[[:digit:]]w edge_a\n" +
		"alias rng[a-]v edge_a\n" +
		"alias dash-[-]x edge_a\n" +
		"alias q[]]x edge_a\n" +
		"alias up[A-Z]x edge_a\n" +
		"alias star* edge_c\n" +
		"alias star* edge_a\n" +
		"alias *tail edge-b\n" +
		"alias wildtarget edge_*\n" +
		"alias edge_a edge_c\n" +
		"alias edge-c edge_a\n" +
		"alias selfal selfal\n" +
		"alias nomodule no_such_module\n" +
		"options br[a-c]x brpat=1\n" +
		"options nomodule nm=1\n" +
		"options symbol:a_sym via_symbol=1\n" +
		"alias tobi bi_only\n" +
		"alias tobi2 bi-dash\n" +
		"options tobi tb=1\n" +
		"softdep dot pre: bi-pat1 tobi post: bi_dash\n" +
		"softdep no_such_module pre: edge_order2\n" +
		"blacklist edge_c\n",
	"conf/hi/h.conf":   "alias h\xe9llo edge_a\noptions edge_a v=\xff\xfe\nalias hi[\x80-\xff]x edge_a\n",
	"conf/star/s.conf": "alias * edge_a\nalias ?* edge_c\noptions * star=1\nsoftdep * pre: dot\n",
	"conf/life/l.conf": "alias lifex edge_order2\nalias lifex edge_noorder\n" +
		"softdep edge_order2 pre: edge_user\nsoftdep edge_noorder pre: edge_bi\n",
	"conf/crafted-life/l.conf": "alias lifey p1\nalias lifey p2\nsoftdep p1 pre: top\nsoftdep p2 pre: shared\n",
	"conf/loops/l.conf": "alias edge_al_cfg edge_a\n" +
		"softdep edge_a pre: edge_al_cfg post: edge-alias\n" +
		"softdep edge_b pre: edge_b post: edge_c\n" +
		"softdep edge_c pre: edge_a edge_sd\n" +
		" softdep edge_noorder pre: multi-x\n" +
		"softdep edge_order2 pre: order-2 post: order-3\n",
	"conf/inst/i.conf": "install edge_a /bin/echo a $CMDLINE_OPTS $CMDLINE_OPTS\n" +
		"install edge_b /bin/echo b\n" +
		"softdep edge_b post: dot\n" +
		"install edge_al_cfg /bin/echo alias-install\n" +
		"alias edge_al_cfg edge_a\n" +
		"install edge_sd /bin/echo sd\n" +
		"install dot /bin/echo dot\n" +
		"options dot d=1\n" +
		"install edge_* /bin/echo star\n" +
		"install bi_only /bin/echo bi\n" +
		"install bi-pat* /bin/echo bipat\n" +
		"remove edge_rm /bin/echo rm\n" +
		"remove edge_c /bin/echo rmc\n" +
		"install edge.x /bin/echo dotted-install\n" +
		"install dot.ted /bin/echo dotted-install2\n" +
		"blacklist bi_only\n" +
		"blacklist loop\n" +
		"options edge_rm r=1\n",
}

// buildEdge writes edgeTree and a second tree, indexes both with kmod's
// depmod, writes the handmade module directories and edgeFiles, and
// returns the root.
func buildEdge(t *testing.T) string {
	t.Helper()
	testmod.RequireTool(t, "depmod")
	testmod.RequireTool(t, "modprobe")
	root := t.TempDir()
	depmod := func(tree *testmod.Tree) {
		t.Helper()
		if _, err := tree.Write(root); err != nil {
			t.Fatal(err)
		}
		var te *testmod.ToolError
		if err := testmod.RunDepmod(context.Background(), root, tree.Release); err != nil && !(errors.As(err, &te) && te.ExitCode == 0) {
			t.Fatal(err)
		}
	}
	depmod(edgeTree())
	// A modules.dep line that names a file that is gone.
	if err := os.Remove(filepath.Join(testmod.ModuleDir(root, edgeRelease), "kernel/e/edge_gone.ko")); err != nil {
		t.Fatal(err)
	}
	// A release whose module directory holds a modules.weakdep, which
	// kmod 33 and later read as configuration and kmod 30 ignores.
	depmod(&testmod.Tree{
		Release: edgeRelease2,
		Modules: []testmod.TreeModule{
			{RelPath: "kernel/w/w_a.ko", Module: &testmod.Module{ModInfo: testmod.StandardModInfo("w_a", testmod.DefaultVermagic(edgeRelease2))}},
			{RelPath: "kernel/w/w_b.ko", Module: &testmod.Module{ModInfo: testmod.StandardModInfo("w_b", testmod.DefaultVermagic(edgeRelease2))}},
		},
		Files: map[string][]byte{
			"lib/modules/" + edgeRelease2 + "/modules.weakdep": []byte("weakdep w_a w_b\nalias weakfile w_a\n"),
		},
	})
	writeCrafted(t, testmod.ModuleDir(root, edgeRelease3), "")
	writeCrafted(t, testmod.ModuleDir(root, edgeRelease4), "corrupt modules.alias.bin")
	writeCrafted(t, testmod.ModuleDir(root, edgeRelease5), "omit modules.builtin.alias.bin")
	writeCrafted(t, testmod.ModuleDir(root, edgeRelease6), "omit modules.symbols.bin")
	for name, content := range edgeFiles {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasPrefix(content, "->"):
			target := content[2:]
			if strings.HasPrefix(target, "@") {
				target = root + target[1:]
			}
			err = os.Symlink(target, p)
		case content == "DIR":
			err = os.MkdirAll(p, 0o755)
		default:
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	writeDeepConf(t, root)
	return root
}

// deepConfDir returns the configuration directory writeDeepConf makes:
// short enough to be opened, too long for the path of the file in it to
// fit in PATH_MAX.
func deepConfDir(root string) string {
	d := root + "/conf/deep"
	for len(d) < 4060 {
		d += "/" + strings.Repeat("p", 60)
	}
	return d
}

// writeDeepConf writes a configuration file whose full path is longer than
// PATH_MAX (libkmod: "Error parsing DIR/NAME: path too long").
func writeDeepConf(t *testing.T, root string) {
	t.Helper()
	dir := deepConfDir(root)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fd, err := syscall.Openat(int(d.Fd()), strings.Repeat("z", 40)+".conf", syscall.O_CREAT|syscall.O_WRONLY|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if _, err := syscall.Write(fd, []byte("alias deep edge_a\n")); err != nil {
		t.Fatal(err)
	}
}

// writeCrafted writes a module directory whose indexes are made by hand,
// with entries depmod never writes: dependency lines that disagree about a
// module's file, odd separators, absolute and overlong paths, keys with
// backslashes and values of equal priority. damage is "", or "corrupt F"
// to give index F a bad magic number, or "omit F" to leave it out; either
// makes libkmod read every index per lookup, unless F is the optional
// modules.builtin.alias.bin.
func writeCrafted(t *testing.T, dir string, damage string) {
	t.Helper()
	longPath := strings.Repeat("d/", 2100) + "long.ko"
	type kv struct {
		key, value string
		prio       uint32
	}
	indexes := map[string][]kv{
		"modules.dep.bin": {
			{"top", "kernel/top.ko: kernel/a/shared.ko", 1},
			{"other", "kernel/other.ko: kernel/b/shared.ko", 2},
			{"shared", "kernel/b/shared.ko:", 3},
			{"weird", "kernel/weird.ko:\tkernel/m1.ko \t" + dir + "/kernel/m2.ko\tkernel/b/shared.ko ", 4},
			{"m1", "kernel/m1.ko:", 5},
			{"m2", "kernel/m2.ko:", 6},
			{"nocolon", "kernel/nocolon.ko", 7},
			{"empty", "", 8},
			{"abs", dir + "/kernel/m1.ko:", 9},
			{"longp", longPath + ":", 10},
			{"longdep", "kernel/m1.ko: " + longPath, 11},
			{"dup", "kernel/m1.ko:", 12},
			{"dup", "kernel/m2.ko:", 0},
			{"gone", "kernel/gone.ko: kernel/m1.ko", 13},
			{"dotdot", "kernel/../kernel/m1.ko: kernel/./m2.ko", 14},
			{"selfdep", "kernel/m1.ko: kernel/m1.ko", 15},
			{"p1", "kernel/m1.ko:", 16},
			{"p2", "kernel/m2.ko:", 17},
		},
		"modules.alias.bin": {
			{"cr*", "top", 3}, {"cr*", "other", 3}, {"cr*", "m1", 1}, {"cr?", "m2", 3},
			{`a\\b`, "m1", 1}, {`x\\*`, "m2", 1}, {`esc\\[x]`, "m1", 1},
			{"nomod", "doesnotexist", 1}, {"q", "top", 0}, {"q", "top", 0}, {"q", "m2", 0},
			{"shared_al", "shared", 0},
		},
		"modules.symbols.bin":       {{"symbol:s1", "top", 1}, {"symbol:s1", "m1", 1}},
		"modules.builtin.bin":       {{"bimod", "", 0}, {"m2", "", 0}},
		"modules.builtin.alias.bin": {{"bialias", "bimod", 0}, {"cr*", "bimod", 0}},
	}
	for name, kvs := range indexes {
		var b index.Builder
		for _, e := range kvs {
			if err := b.Add(e.key, e.value, e.prio); err != nil {
				t.Fatal(err)
			}
		}
		data, err := b.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		switch damage {
		case "corrupt " + name:
			data[0] ^= 0xff
		case "omit " + name:
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"top", "other", "a/shared", "b/shared", "weird", "m1", "m2", "nocolon"} {
		p := filepath.Join(dir, "kernel", f+".ko")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("not an ELF file"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// edgeCase is one modprobe invocation: -d ROOT -S RELEASE, -C options,
// then mode and args. In args, conf and env values, a leading '@' (and
// "@/" anywhere in env values) stands for ROOT.
type edgeCase struct {
	name string            // for messages; defaults to mode and args
	mode []string          // starts with a flag that keeps kmod from loading anything
	args []string          // further options and operands
	env  map[string]string // MODPROBE_OPTIONS and the like
	conf []string          // -C arguments; nil means "@/conf/main", noConf none at all
	rel  string            // -S value; "" means edgeRelease, "-" leaves -d and -S out
}

// noConf, as edgeCase.conf, passes no -C: kmod's default directories are
// read.
var noConf = []string{}

// safeModes are the flags that make kmod's modprobe print instead of act.
var safeModes = map[string]bool{
	"-D": true, "--show-depends": true, "-R": true, "--resolve-alias": true,
	"-c": true, "--showconfig": true, "-n": true, "--dry-run": true,
}

// argv returns the arguments and environment of c for the fixture at root.
func (c edgeCase) argv(root string) ([]string, map[string]string) {
	exp := func(s string) string {
		if strings.HasPrefix(s, "@") {
			return root + s[1:]
		}
		return s
	}
	var args []string
	switch c.rel {
	case "-":
	case "":
		args = append(args, "-d", root, "-S", edgeRelease)
	default:
		args = append(args, "-d", root, "-S", c.rel)
	}
	conf := c.conf
	if conf == nil {
		conf = []string{"@/conf/main"}
	}
	for _, d := range conf {
		args = append(args, "-C", exp(d))
	}
	for _, a := range c.mode {
		args = append(args, exp(a))
	}
	for _, a := range c.args {
		args = append(args, exp(a))
	}
	var env map[string]string
	if c.env != nil {
		env = map[string]string{}
		for k, v := range c.env {
			env[k] = strings.ReplaceAll(v, "@/", root+"/")
		}
	}
	return args, env
}

func (c edgeCase) String() string {
	if c.name != "" {
		return c.name
	}
	return shellQuote(append(append([]string{}, c.mode...), c.args...))
}

// edgeWorkers is how many cases run at once: starting kmod dominates the
// run time, and more workers than this made it slower on a 2-CPU machine.
const edgeWorkers = 4

// ctxPtrRE matches the context pointer libkmod 30 prints when a
// dependency of a modules.dep line cannot be used
// ("ctx=0x55d5c3a0e410 path=... error=..."); it differs from run to run.
var ctxPtrRE = regexp.MustCompile(`ctx=0x[0-9a-f]+ `)

// maskPointer hides that pointer.
func maskPointer(s string) string { return ctxPtrRE.ReplaceAllString(s, "ctx=0xPTR ") }

// runEdgeCases runs every case with the kmod release's modprobe and with
// gokmod's (following that build) and reports each difference, after
// masking libkmod's pointer and applying norm (if not nil) to both
// outcomes. It returns the number of identical cases.
func runEdgeCases(t *testing.T, k kmodRef, root string, cases []edgeCase, norm func(string) string) int {
	t.Helper()
	path := k.path(t, "modprobe")
	type result struct {
		args      []string
		env       map[string]string
		want, got outcome
		err       error
	}
	results := make([]result, len(cases))
	for i, c := range cases {
		if len(c.mode) == 0 || !safeModes[c.mode[0]] {
			t.Fatalf("case %v: mode %q does not start with a dry-run flag", c, c.mode)
		}
		results[i].args, results[i].env = c.argv(root)
	}
	var wg sync.WaitGroup
	work := make(chan int)
	for range edgeWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				r := &results[i]
				r.want, r.err = execAs(path, path, "", r.args, r.env)
				r.got = k.ours("modprobe", r.args, r.env)
			}
		}()
	}
	for i := range cases {
		work <- i
	}
	close(work)
	wg.Wait()
	fix := func(o outcome) outcome {
		o.Stderr = maskPointer(o.Stderr)
		if norm != nil {
			o.Stdout, o.Stderr = norm(o.Stdout), norm(o.Stderr)
		}
		return o
	}
	same := 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("running kmod: %v", r.err)
		}
		want, got := fix(r.want), fix(r.got)
		if want == got {
			same++
			continue
		}
		t.Errorf("%v: modprobe %s (env %q) differs:\nkmod:   %s\ngokmod: %s", cases[i], shellQuote(r.args), r.env, want, got)
	}
	return same
}

// deplineRE matches the message each program prints when a dependency in
// a modules.dep line cannot be used (a missing file, or a module already
// known with another file). They differ (see the depline-* cases of
// TestDifferentialEdgeDiffs); normDepline reduces both to the path so that
// the regression cases can still check everything else, including how
// often the message comes.
var deplineRE = regexp.MustCompile(`(?m)libkmod-module\.c:(?:191 kmod_module_parse_depline\(\) ctx=0xPTR path=(\S+) error=.*|182 kmod_module_parse_depline\(\) could not use dependency (\S+) of .*)$`)

func normDepline(s string) string {
	return deplineRE.ReplaceAllString(s, "parse_depline: bad dependency $1$2")
}

// depline34RE is deplineRE for kmod 34.2's messages, which carry no place
// in libkmod.
var depline34RE = regexp.MustCompile(`(?m)ERROR: (?:ctx=0xPTR path=(\S+) error=.*|could not use dependency (\S+) of .*)$`)

func normDepline34(s string) string {
	return depline34RE.ReplaceAllString(s, "ERROR: parse_depline: bad dependency $1$2")
}

// edgeNames are the names the lookup modes are asked about.
var edgeNames = []string{
	"edge_a", "edge-b", "edge_c", "dot", "dot.ted", "dot-ted", "dotted-alias", "edge_bi", "edge_user",
	"edge_needgone", "edge_gone", "edge_sd", "edge_inst", "inst-al", "edge_noorder", "edge_order2",
	"edge-alias", "edge_al_cfg", "edge-al-cfg", "pat5x", "patx", "lit*x", `lit\*x`, "litx", "multi-x", "multi-bx",
	"bangdz", "bangaz", "bang-z", "cls7q", "clsaq", "qaz", "q-z", "q_z", "sp-bx", "sp--x", "sp_-x", "sp-_x", "eqx",
	"bi_only", "bi-only", "bi-pat1", "edge-alias-bi", "bi_dash", "bi-dash", "order-1", "symbol:a_sym",
	"symbol:gone_sym", "symbol:*", "symbol:", "edge_ins", "edge_ins*", "edge_inst*", "not_there", "edge_a.ko",
	"kernel/e/edge_a.ko", "@/lib/modules/" + edgeRelease + "/kernel/e/edge_a.ko", "multi-[b]x", "multi-[", "pat[5]x",
	"*", "?", "", "loop", "loop-alias", "kernel", "kernel-alias", "edge_rm", "edge.x", "edge_x", "lifex",
	// conf/syntax
	"crlf", "contal", `x\y`, "xy", "#hash", "mid", "middle", "tabbed", "nul", "afternul", "startnul",
	strings.Repeat("L", 3000), "onlyone", "ok", "upper",
	// conf/files, conf/dup*, conf/zz
	"hidden", "backup", "fromg", "fromj", "fromlink", "bare", "dotconf", "upperconf", "double", "dup", "dupx",
	"single", "fakesoftdep",
	// conf/brackets
	"brbx", "br-x", "brdx", "negdy", "negay", "esc*z", `esc\*z`, "escz", "esc2w", "esc2*w", "clsw", "cls5w",
	"rng-v", "rng_v", "rngav", "dash_-x", "dash--x", "dash__x", "q]x", "upQx", "starfoo", "footail", "star*",
	"wildtarget", "selfal", "nomodule", "no_such_module", "deep", "tobi", "tobi2",
	// conf/hi
	"h\xe9llo", "hi\x90x",
}

// edgeModes are the modes every name is looked up with.
var edgeModes = [][]string{{"-D"}, {"-R"}, {"-n", "-v"}, {"-D", "-i"}, {"-D", "-b"}}

func TestDifferentialEdge(t *testing.T) {
	root := buildEdge(t)
	cases := edgeCases(t, root)
	same := runEdgeCases(t, ref30(), root, cases, normDepline)
	t.Logf("edge cases: %d/%d modprobe invocations (%d names, -a runs counted per name) identical to kmod 30", same, len(cases), edgeNameCount(cases))
}

// TestDifferentialEdgeKmod34: the same cases against Debian 13's kmod
// 34.2, gokmod in its default mode. (The trees are indexed by the host's
// depmod; kmod 34.2 reads kmod 30's indexes.)
func TestDifferentialEdgeKmod34(t *testing.T) {
	ref34().path(t, "modprobe")
	root := buildEdge(t)
	cases := edgeCases(t, root)
	same := runEdgeCases(t, ref34(), root, cases, normDepline34)
	t.Logf("edge cases: %d/%d modprobe invocations (%d names, -a runs counted per name) identical to kmod 34.2", same, len(cases), edgeNameCount(cases))
}

// edgeNameCount counts the names the cases look up, -a runs per name.
func edgeNameCount(cases []edgeCase) int {
	names := 0
	for _, c := range cases {
		if slices.Contains(c.mode, "-a") {
			names += len(c.args)
		} else {
			names++
		}
	}
	return names
}

// edgeCases are the cases of the edge tree built at root.
func edgeCases(t *testing.T, root string) []edgeCase {
	var cases []edgeCase
	add := func(c edgeCase) { cases = append(cases, c) }

	// Every name in every mode with each configuration, one -a run per
	// mode (-a keeps the names independent: libkmod frees every module
	// of one name before the next), and -c.
	confs := [][]string{
		nil, {"@/conf/syntax"}, {"@/conf/files"}, {"@/conf/dup2", "@/conf/dup1"}, {"@/conf/sdorder"},
		{"@/conf/loops"}, {"@/conf/inst"}, {"@/conf/inst", "@/conf/main"}, {"@/conf/brackets"},
		{"@/conf/single.txt"}, {"@/missing"}, {"/dev/null"}, {"@/conf/main", "@/conf/main"},
		{"@/conf/main/10-main.conf", "@/conf/main"}, {"@/conf/files/b.conf"}, {"@/conf/files/c.conf"},
		{"@/conf/files/d.conf"}, {"@/conf/zz/modules.softdep"}, {""}, {"@/conf/main/"}, {"@/conf/files/h.conf"},
		{"@/conf/zz"}, {deepConfDir(root)}, {"@/conf/star"}, {"@/conf/hi"}, noConf,
	}
	for _, conf := range confs {
		add(edgeCase{mode: []string{"-c"}, conf: conf})
		for _, mode := range edgeModes {
			add(edgeCase{mode: append(append([]string{}, mode...), "-a"), args: edgeNames, conf: conf})
		}
	}
	// A few names one at a time, where "not found" is FATAL.
	for _, n := range []string{"edge-alias", "nope", "edge_needgone", ""} {
		for _, mode := range edgeModes {
			add(edgeCase{mode: mode, args: []string{n}})
		}
		add(edgeCase{mode: []string{"-D", "-q"}, args: []string{n}})
	}

	// The handmade indexes: dependency lines that disagree about a
	// module's file, odd separators, keys with backslashes, equal
	// priorities; once mapped, once read per lookup. ("cr1" and the like,
	// which resolve to "other" through an alias, are left out: see
	// depline-eager-resolve.)
	crafted := []string{
		"top", "other", "shared", "weird", "m1", "m2", "nocolon", "empty", "abs", "dup", "gone", "dotdot", "selfdep",
		`a\b`, "ab", "x*", "xy", "esc[x]", "escx", "nomod", "q", "symbol:s1", "bimod",
		"bialias", "shared_al", "shared-al", "lifey",
	}
	for _, rel := range []string{edgeRelease3, edgeRelease4, edgeRelease5, edgeRelease6} {
		conf := []string{"@/conf/crafted"}
		add(edgeCase{rel: rel, mode: []string{"-c"}, conf: conf})
		for _, mode := range [][]string{{"-D"}, {"-n", "-v"}, {"-D", "-i"}} {
			add(edgeCase{rel: rel, mode: append(append([]string{}, mode...), "-a"), args: crafted, conf: conf})
		}
		// -R on names whose modules have no conflicting dependency line
		// (see depline-eager-resolve).
		add(edgeCase{rel: rel, mode: []string{"-R", "-a"}, args: crafted[:13], conf: conf})
	}

	// Module parameters after the name.
	for _, params := range [][]string{
		{"a=b=c"}, {"a= b"}, {"a='x y'"}, {`a="x y`}, {"a=x\ty"}, {"noeq with space"}, {"=v"}, {"=v w"},
		{`a=""`}, {"'a=x y'"}, {"a=x y", "b=1"}, {"x=1", ""}, {"a", "", "b"}, {"a=x  y"}, {"a=\"x\" y"},
		{"a=x'y z"}, {"-v"}, {"--", "x=1"}, {"x=1", "x=2"}, {"a=$CMDLINE_OPTS"}, {"a=\n b"},
	} {
		for _, n := range []string{"edge_a", "edge_inst"} {
			add(edgeCase{mode: []string{"-D"}, args: append([]string{n}, params...)})
		}
	}
	add(edgeCase{mode: []string{"-D"}, args: []string{"edge_inst", "x=1"}, conf: []string{"@/conf/inst"}})
	add(edgeCase{mode: []string{"-D", "-a"}, args: []string{"edge_a", "x=1", "edge_c"}})
	add(edgeCase{mode: []string{"-R"}, args: []string{"edge_a", "x=1"}})

	// --first-time, -n without -v and -q, with builtin modules, aliases
	// and module names of the running kernel (/sys/module/loop without
	// initstate counts as "coming", so not loaded).
	for _, mode := range [][]string{
		{"-n", "--first-time", "-v"}, {"-n", "--first-time"}, {"-n"}, {"-n", "-q", "--first-time"},
		{"-D", "--first-time"}, {"-n", "-v"},
	} {
		add(edgeCase{mode: append(append([]string{}, mode...), "-a"), args: []string{
			"edge_bi", "bi_only", "bi-pat1", "edge_user", "edge-alias", "edge_a", "nope", "edge-alias-bi", "loop", "kernel",
		}})
		for _, n := range []string{"edge_bi", "bi-pat1", "nope"} {
			add(edgeCase{mode: mode, args: []string{n, "edge_bi"}})
		}
	}

	// MODPROBE_OPTIONS.
	for _, opts := range []string{
		"-C @/conf/files", "edge_a", "'-v' edge_a", "-q", "  ", "-v\t-q", `"a b"c`, `a"b c"d`, `''`, `""x`,
		`x"`, `-v "`, "-C", "--config=@/conf/syntax", "-i", "-b", "--", "-- -v", "-C @/conf/files -C @/conf/syntax",
		`'-C@/conf/files'`, `-C'@/conf/files'`, "-a edge_c", "-R", "-c", "-n", `"-C @/conf/files"`, "-d / -S x",
	} {
		add(edgeCase{mode: []string{"-D"}, args: []string{"edge-alias"}, env: map[string]string{"MODPROBE_OPTIONS": opts}})
	}
	add(edgeCase{mode: []string{"-D"}, args: []string{"edge_a"}, env: map[string]string{"MODPROBE_OPTIONS": ""}})

	// getopt.
	for _, extra := range [][]string{
		{"--show", "edge_a"}, {"--remove-", "edge_a"}, {"--ignore-", "edge_user"}, {"--force-", "edge_a"},
		{"--showc"}, {"--dry", "edge_a"}, {"--res", "edge_a"}, {"--config"}, {"--config=@/conf/files", "fromg"},
		{"--config", "@/conf/files", "fromg"}, {"-C"}, {"-d"}, {"-S"}, {"--dirname="}, {"--set-version", "", "edge_a"},
		{"-C@/conf/files", "fromg"}, {"-vq", "edge_a"}, {"-qv", "nope"}, {"-Dq", "nope"}, {"--", "edge_a", "-v"},
		{"-", "edge_a"}, {"-?"}, {"-W", "foo", "edge_a"}, {"-Wfoo", "edge_a"}, {"--all"}, {"-a"}, {"--quiet=1", "edge_a"},
		{"--show-depends", "edge_a"}, {"--verb", "edge_a"}, {"-w", "1", "edge_a"}, {"-w", "abc", "edge_a"},
		{"--wait=0x10", "edge_a"}, {"--wait", "", "edge_a"}, {"-w", "-1", "edge_a"}, {"--first-time=x", "edge_a"},
		{"-f", "edge_a"}, {"--force-modversion", "--force-vermagic", "edge_a"}, {"--remove-holders", "edge_a"},
		{"edge_a", "--", "-v"}, {"-ib", "edge-alias"}, {"--use-blacklist", "edge-alias"},
		{"--ignore-install", "edge_inst"}, {"--ignore-remove", "edge_inst"}, {"--co=@/conf/files", "fromg"},
		{"--s", "edge_a"}, {"--show-", "edge_a"}, {"--resolve", "edge_a"}, {"-DR", "edge_a"}, {"-cD"}, {"-Rc"},
		{"-C", "@/conf/files", "-C", "@/conf/syntax", "crlf", "fromg"},
	} {
		add(edgeCase{mode: []string{"-D"}, args: extra})
	}
	add(edgeCase{mode: []string{"-D"}, args: []string{"edge_a"}, env: map[string]string{"POSIXLY_CORRECT": "1"}})
	add(edgeCase{mode: []string{"-R"}, args: []string{"edge_a", "-v"}, env: map[string]string{"POSIXLY_CORRECT": "1"}})

	// -d and -S.
	rel := relToWd(t, root)
	for _, da := range [][]string{
		{"-d", rel, "-S", edgeRelease}, {"-d", root + "/", "-S", edgeRelease}, {"-S", edgeRelease},
		{"-d", root}, {"-d", root, "-S", "nosuch"}, {"-d", "", "-S", edgeRelease},
		{"-d", root + "/lib/..", "-S", edgeRelease}, {"--dirname", root, "--set-version=" + edgeRelease},
		{"-d", root, "-S", "../modules/" + edgeRelease},
	} {
		add(edgeCase{rel: "-", mode: []string{"-D"}, args: append(append([]string{}, da...), "edge_a")})
		add(edgeCase{rel: "-", mode: []string{"-R"}, args: append(append([]string{}, da...), "nope")})
	}

	// Names kmod cuts (at PATH_MAX-1 bytes) or cannot store with an alias
	// (name, '\\' and alias longer than PATH_MAX).
	for _, n := range []string{
		strings.Repeat("x", 5000), "order-" + strings.Repeat("y", 4084), "order-" + strings.Repeat("y", 4083),
		"order-" + strings.Repeat("y", 4090), "order-" + strings.Repeat("y", 4088) + "[", strings.Repeat("z", 4094) + "]",
	} {
		add(edgeCase{mode: []string{"-R"}, args: []string{n}})
		add(edgeCase{mode: []string{"-D"}, args: []string{n}})
	}

	return cases
}

// edgeDiffCases are minimal reproductions of differences that gokmod had
// from kmod, one per cause, kept as regression tests. The name says what
// differed.
var edgeDiffCases = []edgeCase{
	// kmod prints "ctx=%p path=%s error=%s" (libkmod-module.c:191) when a
	// dependency of a modules.dep line cannot be opened.
	{name: "depline-missing-file-message", mode: []string{"-D"}, args: []string{"edge_needgone"}},
	// kmod prints "could not join path '%s' and '%s'." (:184) when a
	// dependency path does not fit in PATH_MAX.
	{name: "depline-join-too-long-message", rel: edgeRelease3, mode: []string{"-D"}, args: []string{"longdep"}, conf: []string{"@/conf/crafted"}},
	// kmod leaves the module without a path (and prints nothing) when its
	// own path does not fit in PATH_MAX.
	{name: "depline-own-path-too-long", rel: edgeRelease3, mode: []string{"-D"}, args: []string{"longp"}, conf: []string{"@/conf/crafted"}},
	// libkmod reads the modules.dep line of a module found through an
	// alias only when it needs its dependencies: never for -R, and once
	// for -D (a failed parse is retried each time).
	{name: "depline-eager-resolve", mode: []string{"-R"}, args: []string{"needgone-al"}},
	{name: "depline-eager-resolve-probe", mode: []string{"-D"}, args: []string{"needgone-al"}},
	{name: "depline-eager-resolve-conflict", rel: edgeRelease3, mode: []string{"-R"}, args: []string{"cr1"}, conf: []string{"@/conf/crafted"}},
	// kmod 30 also reads *.alias files in configuration directories.
	{name: "config-dot-alias-files", mode: []string{"-R"}, args: []string{"fromdotalias"}, conf: []string{"@/conf/dotalias"}},
	// kmod 30 knows no weakdep directive: a bad line.
	{name: "config-weakdep-directive", mode: []string{"-R"}, args: []string{"afterweak"}, conf: []string{"@/conf/weak"}},
	// kmod 30 does not read MODULE_DIR/modules.weakdep ...
	{name: "config-modules-weakdep-read", rel: edgeRelease2, mode: []string{"-R"}, args: []string{"weakfile"}},
	{name: "config-modules-weakdep-showconfig", rel: edgeRelease2, mode: []string{"-c"}, conf: []string{"/dev/null"}},
	// ... so a -C file of that name is not a duplicate of it.
	{name: "config-single-file-named-modules-weakdep", mode: []string{"-R"}, args: []string{"fakeweakdep"}, conf: []string{"@/conf/zz/modules.weakdep"}},
	// A backslash as the last byte of a file: kmod 30 stores the EOF it
	// reads after it, as byte 0xff.
	{name: "config-backslash-at-eof", mode: []string{"-R"}, args: []string{"eofbs"}, conf: []string{"@/conf/eofbs"}},
	{name: "config-backslash-at-eof-options", mode: []string{"-D"}, args: []string{"edge_a"}, conf: []string{"@/conf/eofbs3"}},
	{name: "config-backslash-alone-at-eof", mode: []string{"-R"}, args: []string{"edge_a"}, conf: []string{"@/conf/eofbs2"}},
	// -s sends modprobe's own messages and libkmod's (once set up) to
	// syslog, not to stderr.
	{name: "syslog-not-found", mode: []string{"-D", "-s"}, args: []string{"nope"}},
	{name: "syslog-libkmod-message", mode: []string{"-D", "-s"}, args: []string{"edge_sd"}},
	{name: "syslog-from-env", mode: []string{"-D"}, args: []string{"nope"}, env: map[string]string{"MODPROBE_OPTIONS": "-s"}},
	// libkmod frees the modules of one probe when it ends; the next probe
	// of the same name gets new ones, which have not kept the builtin
	// flag (set to "no" by a dependency line) ...
	{name: "probe-module-lifetime-builtin", mode: []string{"-n", "-v"}, args: []string{"lifex"}, conf: []string{"@/conf/life"}},
	// ... nor the path taken from another module's dependency line.
	{name: "probe-module-lifetime-path", rel: edgeRelease3, mode: []string{"-D"}, args: []string{"lifey"}, conf: []string{"@/conf/crafted-life"}},
	// options_from_array adds the separating space only after a non-empty
	// string, so leading empty parameters leave no space.
	{name: "params-leading-empty", mode: []string{"-D"}, args: []string{"edge_a", "", "x=1"}},
	{name: "params-leading-empties", mode: []string{"-D"}, args: []string{"edge_a", "", "", "x=1", ""}},
	// tools/modprobe.c builds the module directory with snprintf into a
	// PATH_MAX buffer, cutting a longer -d/-S at 4095 bytes. (The case
	// also shows config-modules-weakdep: gokmod reports the pseudo-file
	// modules.weakdep as too long as well.)
	{name: "dirname-cut-at-path-max", rel: "-", mode: []string{"-R"}, args: []string{"-d", "/" + strings.Repeat("r", 4080), "-S", "xyz", "nope"}},
}

// TestDifferentialEdgeDiffs runs edgeDiffCases against the host's kmod 30
// and Debian 13's kmod 34.2.
func TestDifferentialEdgeDiffs(t *testing.T) {
	root := buildEdge(t)
	for _, k := range []kmodRef{ref30(), ref34()} {
		for _, c := range edgeDiffCases {
			t.Run(k.compat+"/"+c.name, func(t *testing.T) {
				runEdgeCases(t, k, root, []edgeCase{c}, nil)
			})
		}
	}
}

// relToWd returns path relative to the working directory, for the
// command lines that must give kmod a relative directory.
func relToWd(t *testing.T, path string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, path)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}
