package modprobetest_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/modprobetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteTreeBuiltin: a Builtin module is listed in modules.builtin,
// has no file and no modules.dep line, and a Loader finds it loaded
// without inserting anything; builtin modules with dependencies, and
// modules depending on builtin ones, are refused.
func TestWriteTreeBuiltin(t *testing.T) {
	root := t.TempDir()
	dir, err := modprobetest.WriteTree(root, "6.1.0-t",
		modprobetest.Module{Name: "a"},
		modprobetest.Module{Name: "bi", Builtin: true},
	)
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, "modules.builtin"))
	require.NoError(t, err)
	assert.Equal(t, "kernel/bi.ko\n", string(b))
	b, err = os.ReadFile(filepath.Join(dir, "modules.dep"))
	require.NoError(t, err)
	assert.Equal(t, "kernel/a.ko:\n", string(b))
	assert.NoFileExists(t, filepath.Join(dir, "kernel/bi.ko"))

	k := modprobetest.NewKernel(t)
	l := k.Open(t, modprobe.Options{RootDir: root, KernelRelease: "6.1.0-t"})
	plan, err := l.Plan(context.Background(), "bi", nil, modprobe.PlanOptions{})
	require.NoError(t, err)
	require.Len(t, plan.Probes, 1)
	assert.Equal(t, modprobe.SkipLoaded, plan.Probes[0].Skip)
	require.NoError(t, l.Load(context.Background(), "bi"))
	assert.Empty(t, k.Inserts())

	_, err = modprobetest.WriteTree(t.TempDir(), "6.1.0-t", modprobetest.Module{Name: "bi", Builtin: true, Depends: []string{"a"}}, modprobetest.Module{Name: "a"})
	assert.ErrorContains(t, err, "builtin module bi")
	_, err = modprobetest.WriteTree(t.TempDir(), "6.1.0-t", modprobetest.Module{Name: "bi", Builtin: true}, modprobetest.Module{Name: "a", Depends: []string{"bi"}})
	assert.ErrorContains(t, err, "depends on builtin module bi")
}
