package modprobe_test

import (
	"strings"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/modprobetest"
)

// loadTree is a module tree of real ELF modules on a fake kernel.
type loadTree struct {
	*testTree
	K *modprobetest.Kernel
}

// newLoadTree writes the modules of a modules.dep text as ELF files with
// modprobetest.WriteTree (the suffix chooses the compression), each
// declaring its modules.dep line as depends= and the parameters in params
// (by module name, each "name:type"), then the files as newTree does, the
// modules.dep text among them as given. The fake kernel then refuses a
// module whose dependencies are not live.
func newLoadTree(t testing.TB, files map[string]string, params map[string][]string) *loadTree {
	t.Helper()
	var mods []modprobetest.Module
	for _, line := range strings.Split(files["modules.dep"], "\n") {
		p, rest, ok := strings.Cut(line, ":")
		if !ok || p == "" {
			continue
		}
		m := modprobetest.Module{Name: testmod.ModName(p), Path: p}
		for _, d := range strings.Fields(rest) {
			m.Depends = append(m.Depends, testmod.ModName(d))
		}
		m.Params = params[m.Name]
		mods = append(mods, m)
	}
	root := t.TempDir()
	if _, err := modprobetest.WriteTree(root, treeRelease, mods...); err != nil {
		t.Fatal(err)
	}
	return &loadTree{testTree: writeFiles(t, root, files, false), K: modprobetest.NewKernel(t)}
}

// open returns a Loader on the tree and the fake kernel.
func (lt *loadTree) open(t testing.TB, opts modprobe.Options) *modprobe.Loader {
	t.Helper()
	opts.RootDir = lt.Root
	opts.KernelRelease = treeRelease
	if opts.ConfigPaths == nil {
		opts.ConfigPaths = []string{lt.Conf}
	}
	return lt.K.Open(t, opts)
}

// inserted returns the names of the modules inserted successfully, in
// order.
func (lt *loadTree) inserted() []string {
	var names []string
	for _, in := range lt.K.Inserts() {
		if in.Err == nil {
			names = append(names, in.Module)
		}
	}
	return names
}
