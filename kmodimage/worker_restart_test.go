package kmodimage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/modprobetest"
)

// The srcversions of the restart test's two ice modules.
const (
	hostSrcversion  = "0123456789ABCDEF01234567"
	imageSrcversion = "FEDCBA9876543210FEDCBA98"
)

// restartNode is a node whose image replaces the in-tree ice with its own
// ice (another srcversion) and loads irdma, which needs it.
func restartNode(t *testing.T, imageSrc string) (*modprobetest.Kernel, *Worker, *[]string, string) {
	t.Helper()
	host, shared := t.TempDir(), t.TempDir()
	_, err := modprobetest.WriteTree(host, rel, modprobetest.Module{Name: "ice", SrcVersion: hostSrcversion})
	require.NoError(t, err)
	_, err = modprobetest.WriteTree(filepath.Join(shared, "opt"), rel,
		modprobetest.Module{Name: "ice", SrcVersion: imageSrc},
		modprobetest.Module{Name: "irdma", Depends: []string{"ice"}})
	require.NoError(t, err)
	k := modprobetest.NewKernel(t)
	var log []string
	w := &Worker{
		SharedDir:     shared,
		KernelRelease: rel,
		Options:       k.Options(modprobe.Options{RootDir: host, ConfigPaths: []string{}}),
		Log:           func(s string) { log = append(log, s) },
	}
	// The node booted with the in-tree ice.
	l, err := modprobe.Open(k.Options(modprobe.Options{RootDir: host, KernelRelease: rel, ConfigPaths: []string{}}))
	require.NoError(t, err)
	defer l.Close()
	require.NoError(t, l.Load(context.Background(), "ice"))
	return k, w, &log, filepath.Join(k.SysfsDir(), "module/ice/srcversion")
}

func restartConfig() *ModuleConfig {
	return &ModuleConfig{
		KernelVersion:         rel,
		InTreeModulesToRemove: []string{"ice"},
		Modprobe:              ModprobeSpec{ModuleName: "irdma", DirName: "/opt"},
	}
}

func srcversionOf(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

// The worker's pod restarts and loads again: the live ice is by then the
// image's own (same srcversion), held by irdma. It is left loaded and
// the load succeeds; removing it by name, as KMM does, fails (in use)
// or, unheld, unloads the image's module.
func TestWorkerRestartKeepsImageModule(t *testing.T) {
	ctx := context.Background()
	k, w, log, src := restartNode(t, imageSrcversion)
	require.Equal(t, hostSrcversion, srcversionOf(t, src))

	// First load: the live ice is the in-tree one (another srcversion):
	// removed, then the image's loaded.
	require.NoError(t, w.Load(ctx, restartConfig()))
	require.Len(t, k.Removes(), 1)
	require.Equal(t, "ice", k.Removes()[0].Module)
	require.Equal(t, imageSrcversion, srcversionOf(t, src))
	require.Equal(t, []string{"ice", "irdma"}, k.Loaded())

	// The restart: nothing removed, nothing inserted, success.
	inserts := len(k.Inserts())
	*log = nil
	require.NoError(t, w.Load(ctx, restartConfig()))
	require.Len(t, k.Removes(), 1, "the image's ice was removed again")
	require.Len(t, k.Inserts(), inserts)
	require.Equal(t, []string{"ice", "irdma"}, k.Loaded())
	require.Contains(t, *log, "in-tree module ice: the live module is the image's (srcversion "+imageSrcversion+"), leaving it")

	// RemoveInTree alone does not know the image: it removes by name.
	require.ErrorIs(t, w.RemoveInTree(ctx, []string{"ice"}), modprobe.ErrInUse)
}

// Without a srcversion in the image's module the two cannot be told
// apart: the live module is removed by name, as KMM does, so a restart
// whose ice is held fails.
func TestWorkerRestartWithoutSrcversion(t *testing.T) {
	ctx := context.Background()
	k, w, _, _ := restartNode(t, "")
	require.NoError(t, w.Load(ctx, restartConfig()))
	require.Len(t, k.Removes(), 1)
	err := w.Load(ctx, restartConfig())
	require.ErrorIs(t, err, modprobe.ErrInUse)
}
