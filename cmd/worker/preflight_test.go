package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/internal/testmod"
)

// runPreflightCLI runs gokmod preflight (as gokmod hands it over) with
// args.
func runPreflightCLI(t *testing.T, args ...string) outcome {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(string) (string, bool) { return "", false },
		Setenv: func(string, string) {},
		Ctx:    t.Context(),
	}
	code := run(e, append([]string{"gokmod", "preflight"}, args...))
	return outcome{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// TestPreflightCLI: gokmod preflight prints one line per problem naming
// the module file and the symbol, exits 1 when a module will not load
// and 0 when all will, notes on standard error what it lacks without
// Module.symvers, and exits 2 on usage errors.
func TestPreflightCLI(t *testing.T) {
	root12, rel12 := testmod.DebianTree(t)
	root13, rel13 := testmod.Debian13Tree(t)
	symvers13 := testmod.DebianSymvers13(t)
	dummy12 := filepath.Join(testmod.ModuleDir(root12, rel12), "kernel/drivers/net/dummy.ko")
	net13 := filepath.Join(testmod.ModuleDir(root13, rel13), "kernel/drivers/net")

	o := runPreflightCLI(t, "-b", root13, "-k", rel13, "-E", symvers13, dummy12)
	require.Equal(t, 1, o.Code, o)
	lines := strings.Split(strings.TrimSuffix(o.Stdout, "\n"), "\n")
	require.Greater(t, len(lines), 3, o)
	for _, l := range lines {
		assert.True(t, strings.HasPrefix(l, dummy12+": "), l)
	}
	assert.Contains(t, lines[0], "struct module size differs")
	assert.Contains(t, lines[1], "disagrees about version of symbol: module_layout")
	assert.Empty(t, o.Stderr)

	o = runPreflightCLI(t, "--basedir="+root13, "--kernel="+rel13, "--symvers="+symvers13, net13)
	assert.Equal(t, 0, o.Code, o)
	assert.Empty(t, o.Stdout)

	o = runPreflightCLI(t, "-b", root13, "-k", rel13, filepath.Join(net13, "dummy.ko.xz"))
	assert.Equal(t, 0, o.Code, o)
	assert.Contains(t, o.Stderr, "gokmod preflight: note: no Module.symvers")

	// --cert: the certificate is read; an unsigned module fails it.
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.pem")
	require.NoError(t, os.WriteFile(cert, []byte("not a certificate"), 0o644))
	o = runPreflightCLI(t, "-b", root13, "-k", rel13, "--cert", cert, dummy12)
	assert.Equal(t, 1, o.Code, o)
	assert.Contains(t, o.Stderr, cert)
	assert.Empty(t, o.Stdout)

	usage := "Usage: gokmod preflight -b BASEDIR -k RELEASE [-E Module.symvers] [-F System.map] [--cert FILE]... MODULE|DIR...\n"
	for _, args := range [][]string{
		{"-b", root13, dummy12},
		{"-k", rel13, dummy12},
		{"-b", root13, "-k", rel13},
		{"-b", root13, "-k", rel13, "--bogus", dummy12},
	} {
		o := runPreflightCLI(t, args...)
		assert.Equal(t, 2, o.Code, "%q: %v", args, o)
		assert.Contains(t, o.Stderr, usage, args)
	}
	o = runPreflightCLI(t, "-b", dir, "-k", rel13, dummy12)
	assert.Equal(t, 1, o.Code, o)
	assert.Contains(t, o.Stderr, filepath.Join(dir, "lib/modules", rel13))
}
