package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// These tests compare gokmod, in its default mode, with Debian 13's kmod
// 34.2 (run with Debian 13's own loader and libraries; make setup fetches
// both) on Debian 13's kernel tree: signed .ko.xz modules under a merged
// /usr, indexed by Debian 13's depmod. modprobe --show-depends of every
// module by name and by path, --resolve-alias of every alias made
// concrete, --showconfig, module paths with their options, errors and
// dependencies, and the other tools' options, messages and -V: outputs,
// exit statuses and stderr identical, but for -V's ZLIB, which Debian
// built kmod without.

func TestDifferentialDebian13ShowDepends(t *testing.T) {
	compareTreeModules(t, ref34())
}

func TestDifferentialDebian13ResolveAlias(t *testing.T) {
	compareTreeAliases(t, ref34())
}

func TestDifferentialDebian13ShowConfig(t *testing.T) {
	k := ref34()
	root, release, _, base := treeSetup(t, k)
	for _, args := range [][]string{append(append([]string{}, base...), "-c"), {"-d", root, "-S", release, "-c"}} {
		if k.compare(t, "modprobe", args, nil) {
			t.Logf("kmod 34.2, modprobe %s: identical", shellQuote(args))
		}
	}
}

// TestDifferentialDebian13ModulePaths: kmod 31's modprobe PATH. Every
// module of the tree by its absolute path, and by a "./" path from the
// module directory; then paths with modprobe.d options, install commands
// and softdeps for their names, copies outside the tree (compressed and
// not), -R, -r and the errors of paths that are missing, directories or
// have no file name.
func TestDifferentialDebian13ModulePaths(t *testing.T) {
	k := ref34()
	_, _, moddir, base := treeSetup(t, k)
	var abs, rel []string
	for _, f := range debianModuleFiles(t, moddir) {
		abs = append(abs, filepath.Join(moddir, f))
		rel = append(rel, "./"+f)
	}
	same, total := compareBatches(t, k, base, base, []string{"-D"}, abs, "install /bin/true \n", nil)
	t.Logf("kmod 34.2, modprobe -D /PATH: %d modules: %d identical", total, same)
	// From the module directory as the kernel's real path (the tree's
	// lib is a link to usr/lib): kmod makes "./x" absolute with getcwd.
	real, err := filepath.EvalSymlinks(moddir)
	if err != nil {
		t.Fatal(err)
	}
	// testmod finds kmod 34.2 from the repository, which a test outside
	// it no longer sees: name it.
	t.Setenv("GOKMOD_KMOD34_BIN", filepath.Dir(k.path(t, "modprobe")))
	t.Chdir(real)
	same, total = compareBatches(t, k, base, base, []string{"-D"}, rel, "install /bin/true \n", nil)
	t.Logf("kmod 34.2, modprobe -D ./PATH: %d modules: %d identical", total, same)

	// Copies outside the tree and configuration for their names.
	dir := t.TempDir()
	t.Chdir(dir)
	copyFile(t, filepath.Join(moddir, "kernel/drivers/net/dummy.ko.xz"), filepath.Join(dir, "dummy.ko.xz"))
	copyFile(t, filepath.Join(moddir, "kernel/net/netfilter/ipvs/ip_vs.ko.xz"), filepath.Join(dir, "sub/ip_vs.ko.xz"))
	copyFile(t, filepath.Join(moddir, "kernel/net/netfilter/ipvs/ip_vs_wrr.ko.xz"), filepath.Join(dir, "sub/ip-vs-wrr.ko.xz"))
	copyFile(t, filepath.Join(moddir, "kernel/drivers/net/dummy.ko.xz"), filepath.Join(dir, ".hidden.ko.xz"))
	if err := os.WriteFile(filepath.Join(dir, "plain.ko"), []byte("not ELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "conf")
	copyFile(t, "/dev/null", filepath.Join(conf, "x"))
	if err := os.WriteFile(filepath.Join(conf, "paths.conf"), []byte(sepConfig+
		"options dummy numdummies=7\noptions ip_vs conn_tab_bits=11\n"+
		"softdep ip_vs_wrr pre: ip_vs_rr post: ip_vs_sh\n"+
		"install plain /bin/true plain $CMDLINE_OPTS\n"+
		"blacklist dummy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// ip_vs_sh's line names the tree's ip_vs while ./sub/ip_vs.ko.xz is
	// that module (Debian's configuration makes ip_vs_sh a softdep of
	// ip_vs): libkmod's "already exists with different path". And a
	// module file that is its own softdep.
	eexist := filepath.Join(dir, "eexist.conf")
	if err := os.WriteFile(eexist, []byte("softdep dummy pre: dummy post: ip_vs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tree := base[:4]
	c := append(append([]string{}, tree...), "-C", conf)
	cases := [][]string{
		{"-D", "./dummy.ko.xz"},
		{"-D", dir + "/dummy.ko.xz", "numdummies=2"},
		{"-D", "-b", "./dummy.ko.xz"},
		{"-D", "-i", "./sub/ip-vs-wrr.ko.xz"},
		{"-D", "./sub/ip-vs-wrr.ko.xz"},
		{"-D", "./sub/ip_vs.ko.xz"},
		{"-D", "-a", "./sub/ip_vs.ko.xz", "ip_vs_wrr", "./dummy.ko.xz"},
		{"-D", "./plain.ko", "a=1"},
		{"-D", "./.hidden.ko.xz"},
		{"-D", "sub/ip_vs.ko.xz"},
		{"-D", "../x.ko"},
		{"-D", "./nosuch.ko"},
		{"-D", "/nosuch/x.ko.xz"},
		{"-D", "-a", "./nosuch.ko", "./dummy.ko.xz"},
		{"-D", "-q", "./nosuch.ko"},
		{"-D", "./sub"},
		{"-D", "./sub/"},
		{"-D", "./"},
		{"-D", "/"},
		{"-D", "./plain.ko/x"},
		{"-R", "./sub/ip-vs-wrr.ko.xz"},
		{"-R", "./nosuch.ko"},
		{"-R", "-a", "./dummy.ko.xz", "dummy", "./plain.ko"},
		{"-r", "./dummy.ko.xz"},
		{"-r", "-a", "./dummy.ko.xz", "/nosuch.ko"},
		{"-n", "-v", "./sub/ip-vs-wrr.ko.xz"},
		{"-n", "./dummy.ko.xz"},
		{"--show-exports", "./sub/ip_vs.ko.xz"},
		{"--show-modversions", "./sub/ip-vs-wrr.ko.xz"},
		{"--show-exports", "ip_vs"},
	}
	same = 0
	for _, cs := range cases {
		// (libkmod prints its context's address in some messages.)
		if k.compareNorm(t, "modprobe", append(append([]string{}, c...), cs...), nil, maskPointer) {
			same++
		}
	}
	if k.compareNorm(t, "modprobe", append(append([]string{}, c...), "-C", eexist, "-D", "./dummy.ko.xz"), nil, maskPointer) {
		same++
	}
	t.Logf("kmod 34.2, modprobe with module paths: %d cases: %d identical", len(cases)+1, same)
}

// debianModuleFiles returns the module files of the tree, relative to its
// module directory, in modules.dep order.
func debianModuleFiles(t *testing.T, moddir string) []string {
	data, err := os.ReadFile(filepath.Join(moddir, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		f, _, _ := strings.Cut(line, ":")
		files = append(files, f)
	}
	return files
}

// copyFile copies src to dst, making dst's directory.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDifferentialDebian13Tools: the tools' options, usage, messages that
// need no module loaded (a module that is not, a file that is missing) and
// -V against kmod 34.2, which Debian built without zlib. Nothing here
// inserts or removes a module.
func TestDifferentialDebian13Tools(t *testing.T) {
	k := ref34()
	_, _, moddir, _ := treeSetup(t, k)
	absent := "gokmod_absent_module"
	if _, err := os.Stat("/sys/module/" + absent); err == nil {
		t.Fatalf("/sys/module/%s exists", absent)
	}
	cases := []struct {
		tool string
		args []string
	}{
		{"modprobe", nil},
		{"modprobe", []string{"-x"}},
		{"insmod", nil},
		{"insmod", []string{"-h"}},
		{"insmod", []string{"--help"}},
		{"insmod", []string{"-p"}},
		{"insmod", []string{"-x"}},
		{"insmod", []string{"-"}},
		{"insmod", []string{"-v", "-f"}},
		{"insmod", []string{"--verbose", "--force"}},
		{"insmod", []string{"/nosuch/x.ko"}},
		{"insmod", []string{"./nosuch.ko", "a=1"}},
		{"insmod", []string{"-vv", "/nosuch/x.ko"}},
		{"rmmod", nil},
		{"rmmod", []string{"-h"}},
		{"rmmod", []string{"-w", absent}},
		{"rmmod", []string{absent}},
		{"rmmod", []string{"-v", absent, absent + "2"}},
		{"lsmod", []string{"-h"}},
		{"lsmod", []string{"--help"}},
		{"lsmod", []string{"x"}},
		{"lsmod", []string{"-x"}},
		{"lsmod", nil},
	}
	same := 0
	for _, c := range cases {
		if k.compare(t, c.tool, c.args, nil) {
			same++
		}
	}
	if k.compare(t, "modprobe", []string{"--show-exports", filepath.Join(moddir, "kernel/net/netfilter/ipvs/ip_vs.ko.xz")}, nil) {
		same++
	}
	t.Logf("kmod 34.2, tools' options and messages: %d cases: %d identical", len(cases)+1, same)
	for _, tool := range []string{"modprobe", "insmod", "rmmod", "lsmod", "modinfo", "depmod"} {
		for _, opt := range []string{"-V", "--version"} {
			want, got := k.run(t, tool, []string{opt}, nil), k.ours(tool, []string{opt}, nil)
			if d := versionDiffers(want.Stdout, got.Stdout, "ZLIB"); d != "" || want.Code != got.Code || want.Stderr != got.Stderr {
				t.Errorf("%s %s: %s\nkmod:   %s\ngokmod: %s", tool, opt, d, want, got)
			}
		}
	}
}
