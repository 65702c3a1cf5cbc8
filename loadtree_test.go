package modprobe_test

import (
	"os"
	"path/filepath"
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

// newLoadTree writes the modules of a modules.dep text as ELF files (the
// suffix chooses the compression), each declaring its modules.dep line as
// depends= plus the .modinfo entries in info (by module name), and the
// other files as newTree does. The fake kernel then refuses a module
// whose dependencies are not live.
func newLoadTree(t testing.TB, files map[string]string, info map[string][]string) *loadTree {
	t.Helper()
	tt := newTree(t, files)
	for _, line := range strings.Split(files["modules.dep"], "\n") {
		p, rest, ok := strings.Cut(line, ":")
		if !ok || p == "" {
			continue
		}
		var deps []string
		for _, d := range strings.Fields(rest) {
			deps = append(deps, testmod.ModName(d))
		}
		name := testmod.ModName(p)
		m := &testmod.Module{Name: name}
		m.ModInfo = append(testmod.StandardModInfo(name, testmod.DefaultVermagic(treeRelease), deps...), info[name]...)
		writeModule(t, filepath.Join(tt.ModDir, p), m)
	}
	return &loadTree{testTree: tt, K: modprobetest.NewKernel(t)}
}

// writeModule writes m as an ELF file at path, compressed as its suffix
// says.
func writeModule(t testing.TB, path string, m *testmod.Module) {
	t.Helper()
	img, err := m.ELF()
	if err != nil {
		t.Fatal(err)
	}
	c, ok := testmod.CompressionFromPath(path)
	if !ok {
		c = testmod.None
	}
	data, err := testmod.Compress(img, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
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
