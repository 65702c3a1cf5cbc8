package kmodimage

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/registrytest"
	"github.com/gokmod/modprobe/modprobetest"
)

// modprobedConf is the image's modprobe.d file: options and a softdep for
// its module.
const modprobedConf = "options ice_oot debug=7\nsoftdep ice_oot pre: irdma_oot\n"

// imageLayer returns a layer holding the module tree of ice_oot and
// irdma_oot for rel below /opt, and the files of extra.
func imageLayer(t *testing.T, extra map[string]string) []registrytest.Entry {
	t.Helper()
	root := t.TempDir()
	_, err := modprobetest.WriteTree(filepath.Join(root, "opt"), rel,
		modprobetest.Module{Name: "ice_oot", Params: []string{"debug:int"}},
		modprobetest.Module{Name: "irdma_oot"})
	require.NoError(t, err)
	var layer []registrytest.Entry
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		name, _ := filepath.Rel(root, path)
		layer = append(layer, registrytest.Entry{Name: filepath.ToSlash(name), Data: b})
		return nil
	}))
	for name, data := range extra {
		layer = append(layer, registrytest.Entry{Name: name, Data: []byte(data)})
	}
	return layer
}

// PullAndLoad pulls the image from a registry (Debian's docker-registry)
// and loads its module with the options and the softdep of the image's
// modprobe.d file; Unload reads them again and removes both modules.
func TestPullAndLoadModprobed(t *testing.T) {
	ctx := context.Background()
	r := registrytest.Start(t)
	ref := r.Push(t, "kmod", rel, registrytest.Image(t, imageLayer(t, map[string]string{"opt/modprobe.d/ice.conf": modprobedConf})))
	k := modprobetest.NewKernel(t)
	w := &Worker{
		SharedDir:     t.TempDir(),
		KernelRelease: rel,
		Options:       k.Options(modprobe.Options{RootDir: t.TempDir(), ConfigPaths: []string{}}),
	}
	cfg := &ModuleConfig{
		KernelVersion:  rel,
		ContainerImage: ref,
		InsecurePull:   true,
		Modprobe:       ModprobeSpec{ModuleName: "ice_oot", DirName: "/opt", ModprobedDir: "/opt/modprobe.d"},
	}
	require.NoError(t, w.PullAndLoad(ctx, cfg, PullLoadOptions{}))
	var got []string
	for _, in := range k.Inserts() {
		got = append(got, strings.TrimSpace(in.Module+" "+in.Params))
	}
	require.Equal(t, []string{"irdma_oot", "ice_oot debug=7"}, got)
	require.FileExists(t, filepath.Join(w.SharedDir, "opt/modprobe.d/ice.conf"))

	require.NoError(t, w.Unload(ctx, cfg))
	require.Empty(t, k.Loaded())

	t.Run("without the files, the softdep and options are not there", func(t *testing.T) {
		k := modprobetest.NewKernel(t)
		w := *w
		w.Options = k.Options(modprobe.Options{RootDir: t.TempDir(), ConfigPaths: []string{}})
		c := *cfg
		c.Modprobe.ModprobedDir = ""
		require.NoError(t, w.Load(ctx, &c))
		require.Equal(t, []string{"ice_oot"}, k.Loaded())
	})
	t.Run("missing from the image", func(t *testing.T) {
		c := *cfg
		c.Modprobe.ModprobedDir = "/etc/modprobe.d"
		w := *w
		w.SharedDir = t.TempDir()
		require.ErrorIs(t, w.PullAndLoad(ctx, &c, PullLoadOptions{}), ErrNotInImage)
	})
	t.Run("through the cache", func(t *testing.T) {
		k := modprobetest.NewKernel(t)
		w := *w
		w.SharedDir = ""
		w.Options = k.Options(modprobe.Options{RootDir: t.TempDir(), ConfigPaths: []string{}})
		cache := t.TempDir()
		require.NoError(t, w.PullAndLoad(ctx, cfg, PullLoadOptions{Cache: cache}))
		require.ElementsMatch(t, []string{"ice_oot", "irdma_oot"}, k.Loaded())
	})
}

// A modprobedDir that KMM refuses (missing, empty, holding a directory,
// not a directory) fails the load and the unload with ErrModprobedDir,
// before anything is loaded; one leading outside the shared directory
// with ErrOutsideRoot; a relative or overlapping one fails Validate.
func TestWorkerModprobedDirRefused(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, shared string)
		want  error
	}{
		{"missing", func(t *testing.T, shared string) {}, ErrModprobedDir},
		{"empty", func(t *testing.T, shared string) {
			require.NoError(t, os.MkdirAll(filepath.Join(shared, "opt/modprobe.d"), 0o755))
		}, ErrModprobedDir},
		{"a subdirectory", func(t *testing.T, shared string) {
			write(t, filepath.Join(shared, "opt/modprobe.d/ice.conf"), modprobedConf)
			require.NoError(t, os.MkdirAll(filepath.Join(shared, "opt/modprobe.d/sub"), 0o755))
		}, ErrModprobedDir},
		{"a file", func(t *testing.T, shared string) {
			write(t, filepath.Join(shared, "opt/modprobe.d"), modprobedConf)
		}, ErrModprobedDir},
		{"a FIFO", func(t *testing.T, shared string) {
			require.NoError(t, os.MkdirAll(filepath.Join(shared, "opt"), 0o755))
			require.NoError(t, syscall.Mkfifo(filepath.Join(shared, "opt/modprobe.d"), 0o600))
		}, ErrModprobedDir},
		{"outside", func(t *testing.T, shared string) {
			outside := t.TempDir()
			write(t, filepath.Join(outside, "ice.conf"), modprobedConf)
			require.NoError(t, os.Symlink(outside, filepath.Join(shared, "opt/modprobe.d")))
		}, ErrOutsideRoot},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			tc.setup(t, n.shared)
			cfg := config(func(c *ModuleConfig) { c.Modprobe.ModprobedDir = "/opt/modprobe.d" })
			err := n.w.Load(ctx, cfg)
			require.ErrorIs(t, err, tc.want)
			require.ErrorContains(t, err, "modprobe.modprobedDir /opt/modprobe.d")
			require.Empty(t, n.k.Inserts())
			require.Empty(t, n.k.Removes())
			require.ErrorIs(t, n.w.Unload(ctx, cfg), tc.want)
		})
	}
	for name, dir := range map[string]string{
		"relative":             "opt/modprobe.d",
		"the kernel directory": "/opt/lib/modules/" + rel + "/modprobe.d",
		"the firmware path":    "/firmware/modprobe.d",
		"root":                 "/",
	} {
		t.Run(name, func(t *testing.T) {
			cfg := config(func(c *ModuleConfig) { c.Modprobe.ModprobedDir = dir })
			require.ErrorIs(t, cfg.Validate(), ErrConfig)
		})
	}
}
