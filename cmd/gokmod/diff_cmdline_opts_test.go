package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

// TestInstallCommandParamsMatchKmod: gokmod modprobe hands an install
// command the administrator's own parameters as kmod does, for the shell
// to read (field splitting, parameter and command substitution); compared
// with Debian's kmod by running the command both ways. The adapters and
// the library quote them instead (TestCmdlineOptsQuoted in the root
// package, TestLoadInstallCommandGetsData in package kata).
func TestInstallCommandParamsMatchKmod(t *testing.T) {
	forEachKmod(t, "modprobe", func(t *testing.T, k kmodRef) {
		tree := &testmod.Tree{Release: synthRelease, Modules: []testmod.TreeModule{
			{RelPath: "kernel/drivers/x/mod_x.ko", Module: mod("mod_x", nil, nil, nil)},
		}}
		root, _ := buildSynth(t, tree, nil)
		conf := filepath.Join(root, "c1")
		if err := os.MkdirAll(conf, 0o755); err != nil {
			t.Fatal(err)
		}
		marker := filepath.Join(root, "ran")
		cmd := `install mod_x for a in $CMDLINE_OPTS; do echo "<$a>"; done; echo "[$CMDLINE_OPTS]"` + "\n" +
			"options mod_x cfg=$((6*7))\n"
		if err := os.WriteFile(filepath.Join(conf, "i.conf"), []byte(cmd), 0o644); err != nil {
			t.Fatal(err)
		}
		same := 0
		cases := [][]string{
			{"a=1"},
			{"max_loop=8${IFS}-a${IFS}dummy"},
			{"p=$(echo sub)"},
			{"p=$(touch${IFS}" + marker + ")"},
			{"p=`echo tick`", "q=x y"},
			{"p='quoted here'", `q="x y"`},
			{"p=a;echo", "semi"},
			{"--", "-x"},
		}
		for _, params := range cases {
			for _, mode := range [][]string{nil, {"-v"}} {
				args := append(append([]string{"-C", conf, "-d", root, "-S", synthRelease}, mode...), append([]string{"mod_x"}, params...)...)
				if k.compare(t, "modprobe", args, nil) {
					same++
				}
			}
		}
		// kmod ran the substitution, and so did gokmod: the marker exists.
		if _, err := os.Stat(marker); err != nil {
			t.Errorf("the command substitution did not run: %v", err)
		}
		t.Logf("%d of %d runs identical to %s (%s)", same, 2*len(cases), k.compat, strings.Join([]string{"stdout", "stderr", "exit status"}, ", "))
	})
}
