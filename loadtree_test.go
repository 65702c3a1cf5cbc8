package modprobe_test

import (
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/modprobetest"
)

// loadTree is a module tree of real ELF modules on a fake kernel.
type loadTree struct {
	*testTree
	K *modprobetest.Kernel
}

// newLoadTree writes a tree as buildTree does, with the parameters in
// params, on a fake kernel, which refuses a module whose dependencies are
// not live.
func newLoadTree(t testing.TB, files map[string]string, params map[string][]string) *loadTree {
	t.Helper()
	return &loadTree{testTree: buildTree(t, files, params), K: modprobetest.NewKernel(t)}
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
