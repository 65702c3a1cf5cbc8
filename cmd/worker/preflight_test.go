package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/internal/registrytest"
	"github.com/gokmod/modprobe/internal/testmod"
)

// runPreflightCLI runs gokmod preflight (as gokmod hands it over) with
// args.
func runPreflightCLI(t *testing.T, args ...string) outcome {
	t.Helper()
	return runWorker(t, append([]string{"gokmod", "preflight"}, args...))
}

// runWorker runs the worker with argv, no kernel needed.
func runWorker(t *testing.T, argv []string) outcome {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(string) (string, bool) { return "", false },
		Setenv: func(string, string) {},
		Ctx:    t.Context(),
	}
	code := run(e, argv)
	return outcome{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// TestPreflightCLI: gokmod preflight prints one line per problem naming
// the module file and the symbol, exits 1 when a module will not load
// and 0 when all will, notes on standard error what it lacks without
// Module.symvers, and exits 2 on usage errors.
func TestPreflightCLI(t *testing.T) {
	// Debian 12's tree is the target: plain modules, read quickly.
	root12, rel12 := testmod.DebianTree(t)
	root13, rel13 := testmod.Debian13Tree(t)
	symvers12 := testmod.DebianSymvers(t)
	dummy13 := filepath.Join(testmod.ModuleDir(root13, rel13), "kernel/drivers/net/dummy.ko.xz")
	net12 := filepath.Join(testmod.ModuleDir(root12, rel12), "kernel/drivers/net")

	o := runPreflightCLI(t, "-b", root12, "-k", rel12, "-E", symvers12, dummy13)
	require.Equal(t, 1, o.Code, o)
	lines := strings.Split(strings.TrimSuffix(o.Stdout, "\n"), "\n")
	require.Greater(t, len(lines), 3, o)
	for _, l := range lines {
		assert.True(t, strings.HasPrefix(l, dummy13+": "), l)
	}
	assert.Contains(t, lines[0], "disagrees about version of symbol: module_layout")
	assert.Empty(t, o.Stderr)

	o = runPreflightCLI(t, "--basedir="+root12, "--kernel="+rel12, "--symvers="+symvers12, net12)
	assert.Equal(t, 0, o.Code, o)
	assert.Empty(t, o.Stdout)

	o = runPreflightCLI(t, "-b", root12, "-k", rel12, filepath.Join(net12, "dummy.ko"))
	assert.Equal(t, 0, o.Code, o)
	assert.Contains(t, o.Stderr, "gokmod preflight: note: no Module.symvers")

	// --cert: the certificate is read; an unsigned module fails it.
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.pem")
	require.NoError(t, os.WriteFile(cert, []byte("not a certificate"), 0o644))
	o = runPreflightCLI(t, "-b", root12, "-k", rel12, "--cert", cert, dummy13)
	assert.Equal(t, 1, o.Code, o)
	assert.Contains(t, o.Stderr, cert)
	assert.Empty(t, o.Stdout)

	usage := "Usage: gokmod preflight -b BASEDIR -k RELEASE [-E Module.symvers] [-F System.map] [--cert FILE]... MODULE|DIR...\n"
	for _, args := range [][]string{
		{"-b", root12, dummy13},
		{"-k", rel12, dummy13},
		{"-b", root12, "-k", rel12},
		{"-b", root12, "-k", rel12, "--bogus", dummy13},
	} {
		o := runPreflightCLI(t, args...)
		assert.Equal(t, 2, o.Code, "%q: %v", args, o)
		assert.Contains(t, o.Stderr, usage, args)
	}
	o = runPreflightCLI(t, "-b", dir, "-k", rel12, dummy13)
	assert.Equal(t, 1, o.Code, o)
	assert.Contains(t, o.Stderr, filepath.Join(dir, "lib/modules", rel12))
}

// TestKMMPreflight: gokmod kmm preflight pulls a kmod image (here an OCI
// layout) and checks its modules for --kernel against --basedir's tree:
// Debian 13's dummy in an image for Debian 12's kernel will not load
// (exit 1, each line naming the image and the module's path in it),
// Debian 12's own will (exit 0); a missing option is a usage error (exit
// 2).
func TestKMMPreflight(t *testing.T) {
	root12, rel12 := testmod.DebianTree(t)
	root13, rel13 := testmod.Debian13Tree(t)
	symvers12 := testmod.DebianSymvers(t)
	image := func(src, name string) string {
		tree := t.TempDir()
		data, err := os.ReadFile(src)
		require.NoError(t, err)
		writeFile(t, filepath.Join(tree, "opt/lib/modules", rel12, "extra", name), string(data))
		lay := t.TempDir()
		p, err := layout.Write(lay, empty.Index)
		require.NoError(t, err)
		require.NoError(t, p.AppendImage(registrytest.ImageFromDir(t, tree)))
		return "oci:" + lay
	}
	other := image(filepath.Join(testmod.ModuleDir(root13, rel13), "kernel/drivers/net/dummy.ko.xz"), "dummy.ko.xz")
	own := image(filepath.Join(testmod.ModuleDir(root12, rel12), "kernel/drivers/net/dummy.ko"), "dummy.ko")
	kmm := func(args ...string) outcome {
		return runWorker(t, append([]string{"gokmod", "kmm", "preflight"}, args...))
	}
	o := kmm("--image", other, "--kernel", rel12, "--basedir", root12, "--symvers", symvers12)
	require.Equal(t, 1, o.Code, o)
	prefix := other + ":/opt/lib/modules/" + rel12 + "/extra/dummy.ko.xz: "
	for _, l := range strings.Split(strings.TrimSuffix(o.Stdout, "\n"), "\n") {
		assert.True(t, strings.HasPrefix(l, prefix), l)
	}
	assert.Contains(t, o.Stdout, prefix+"disagrees about version of symbol: module_layout")

	o = kmm("--image", own, "--kernel", rel12, "--basedir", root12, "--symvers", symvers12)
	assert.Equal(t, 0, o.Code, o)
	assert.Empty(t, o.Stdout)

	o = kmm("--image", own, "--kernel", rel12)
	assert.Equal(t, 2, o.Code, o)
	assert.Contains(t, o.Stderr, "Usage: gokmod kmm preflight")
}
