package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/internal/testmod"
)

// TestLowerDirsEnv: GOKMOD_LOWER_DIRS layers modprobe's module directory
// over others, so that a module of the upper directory needs modules of
// the lower ones, and hides the lower ones' module of its name.
func TestLowerDirsEnv(t *testing.T) {
	root, rel := testmod.DebianTree(t)
	_, k := fakeTree(t)
	base := testmod.ModuleDir(root, rel)
	ipvs, err := filepath.Glob(filepath.Join(base, "kernel/net/netfilter/ipvs/ip_vs.ko*"))
	require.NoError(t, err)
	require.Len(t, ipvs, 1)
	wrr, err := filepath.Glob(filepath.Join(base, "kernel/net/netfilter/ipvs/ip_vs_wrr.ko*"))
	require.NoError(t, err)
	require.Len(t, wrr, 1)

	upperRoot := t.TempDir()
	upper := testmod.ModuleDir(upperRoot, rel)
	mine := filepath.Join(upper, "extra", filepath.Base(ipvs[0]))
	require.NoError(t, os.MkdirAll(filepath.Dir(mine), 0o755))
	require.NoError(t, os.Symlink(ipvs[0], mine))

	o := runFake(k, "modprobe", "-d", upperRoot, "-S", rel, "-D", "ip_vs_wrr")
	assert.Equal(t, 1, o.Code, "the upper directory alone has no ip_vs_wrr: %v", o)

	env := map[string]string{"GOKMOD_LOWER_DIRS": base}
	o = runFakeEnv(k, env, "modprobe", "-d", upperRoot, "-S", rel, "-D", "ip_vs_wrr")
	require.Equal(t, 0, o.Code, o)
	assert.Contains(t, o.Stdout, "insmod "+mine+" \n", "ip_vs is the upper directory's")
	assert.NotContains(t, o.Stdout, ipvs[0], "the lower directory's ip_vs is hidden")
	assert.Contains(t, o.Stdout, "insmod "+wrr[0]+" \n", "ip_vs_wrr is the lower directory's")

	o = runFakeEnv(k, env, "modinfo", "-b", upperRoot, "-k", rel, "-F", "filename", "ip_vs")
	require.Equal(t, 0, o.Code, o)
	assert.Equal(t, mine+"\n", o.Stdout)

	// depmod indexes the union: -n prints it, nothing is written into
	// a layer without -n or -o.
	o = runFakeEnv(k, env, "depmod", "-n", "-b", upperRoot, rel)
	require.Equal(t, 0, o.Code, o)
	assert.Contains(t, o.Stdout, wrr[0]+": extra/"+filepath.Base(mine)+" ", "the base's ip_vs_wrr needs the upper ip_vs")
	o = runFakeEnv(k, env, "depmod", "-b", upperRoot, rel)
	assert.Equal(t, 1, o.Code, o)
	assert.Contains(t, o.Stderr, "never into a layer", o)
	_, err = os.Stat(filepath.Join(upper, "modules.dep"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing written")

	o = runFakeEnv(k, map[string]string{"GOKMOD_LOWER_DIRS": filepath.Join(root, "absent")}, "modprobe", "-d", upperRoot, "-S", rel, "-D", "ip_vs_wrr")
	assert.Equal(t, 1, o.Code, o)
	assert.Contains(t, o.Stderr, filepath.Join(root, "absent"), o)
}
