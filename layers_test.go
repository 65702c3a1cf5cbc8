package modprobe_test

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/depmod"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/modprobetest"
)

// layerOverrides are modules of the Debian trees an upper layer holds
// again at other paths, hiding the base's: modules many others need (so
// that base modules depend on the upper layer) and modules that need
// base modules (so that the upper layer depends on the base).
var layerOverrides = []string{"ip_vs", "nf_conntrack", "libcrc32c", "snd_pcm", "dummy", "ip_vs_wrr", "ext4", "virtio_net"}

// TestLayersMatchKmod checks a layered tree against kmod: a Loader over an
// upper layer holding some of a Debian tree's modules at other paths and
// the Debian tree below it plans what kmod's modprobe plans on a copy
// that physically merges them (each winning module at its path in its
// layer, the layers' modules.order one after the other, the base's
// builtin files), indexed by kmod's own depmod. GOKMOD_LAYERS_ALL=1 asks
// for every module name of both trees; by default a sample of each plus
// every module whose plan passes through the upper layer.
func TestLayersMatchKmod(t *testing.T) {
	t.Run("debian12", func(t *testing.T) {
		root, rel := testmod.DebianTree(t)
		tool := func(name string) string { p, err := testmod.FindTool(name); require.NoError(t, err); return p }
		compareLayers(t, root, rel, modprobe.CompatKmod30, tool("depmod"), tool("modprobe"))
	})
	t.Run("debian13", func(t *testing.T) {
		root, rel := testmod.Debian13Tree(t)
		compareLayers(t, root, rel, modprobe.CompatKmod34, testmod.Kmod34Tool(t, "depmod"), testmod.Kmod34Tool(t, "modprobe"))
	})
}

// layerFile is a module file of a layered tree: its layer's directory,
// its path relative to it, and its name.
type layerFile struct{ dir, rel, name string }

func compareLayers(t *testing.T, root, rel string, compat modprobe.Compat, depmodTool, modprobeTool string) {
	ctx := context.Background()
	base := filepath.Join(root, "lib/modules", rel)
	baseFiles := moduleFiles(t, base)

	// The upper layer: each override at extra/ or updates/dkms/, a link
	// to the base's file, listed in the upper layer's modules.order.
	upper := t.TempDir()
	var order strings.Builder
	var files []layerFile
	won := map[string]bool{}
	for i, name := range layerOverrides {
		f, ok := baseFiles[name]
		require.Truef(t, ok, "%s is not in %s", name, base)
		sub := []string{"extra", "updates/dkms"}[i%2]
		lf := layerFile{dir: upper, rel: sub + "/" + filepath.Base(f.rel), name: name}
		require.NoError(t, os.MkdirAll(filepath.Join(upper, sub), 0o755))
		require.NoError(t, os.Symlink(filepath.Join(base, f.rel), filepath.Join(upper, lf.rel)))
		order.WriteString(strings.TrimSuffix(strings.TrimSuffix(lf.rel, ".xz"), ".zst") + "\n")
		files = append(files, lf)
		won[name] = true
	}
	require.NoError(t, os.WriteFile(filepath.Join(upper, "modules.order"), []byte(order.String()), 0o644))
	for _, f := range baseFiles {
		if !won[f.name] {
			files = append(files, f)
		}
	}

	// The physically merged copy, indexed by kmod's depmod.
	mroot := t.TempDir()
	merged := filepath.Join(mroot, "lib/modules", rel)
	for _, f := range files {
		dst := filepath.Join(merged, f.rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		require.NoError(t, os.Symlink(filepath.Join(f.dir, f.rel), dst))
	}
	baseOrder, err := os.ReadFile(filepath.Join(base, "modules.order"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(merged, "modules.order"), append([]byte(order.String()), baseOrder...), 0o644))
	for _, name := range []string{"modules.builtin", "modules.builtin.modinfo"} {
		data, err := os.ReadFile(filepath.Join(base, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(merged, name), data, 0o644))
	}
	out, err := exec.CommandContext(ctx, depmodTool, "-b", mroot, rel).CombinedOutput()
	require.NoErrorf(t, err, "depmod: %s", out)

	// The names: a sample, the overrides, and every module whose
	// modules.dep line in the merged tree names an override.
	names := layerSample(t, merged, won)
	t.Logf("%d module files, %d names", len(files), len(names))

	noConfig := t.TempDir()
	kmodOut, err := exec.CommandContext(ctx, modprobeTool, append([]string{"-d", mroot, "-S", rel, "-C", noConfig, "-D", "-a"}, names...)...).Output()
	require.NoError(t, err)

	l, err := modprobe.OpenContext(ctx, modprobe.Options{ModuleDir: upper, LowerDirs: []string{base}, ConfigPaths: []string{noConfig}, Compat: compat})
	require.NoError(t, err)
	defer l.Close()
	assert.Equal(t, []string{upper, base}, l.Layers())
	var got []string
	for _, n := range names {
		for _, line := range showDepends(t, l, n) {
			line = strings.Replace(line, upper+"/", merged+"/", 1)
			line = strings.Replace(line, base+"/", merged+"/", 1)
			got = append(got, strings.TrimSpace(line))
		}
	}
	var want []string
	for _, line := range strings.Split(strings.TrimSpace(string(kmodOut)), "\n") {
		want = append(want, strings.TrimSpace(line))
	}
	identical := 0
	for i := range min(len(got), len(want)) {
		if got[i] == want[i] {
			identical++
		}
	}
	t.Logf("%d of %d kmod lines identical (%d names)", identical, len(want), len(names))
	require.Equal(t, want, got)
	// The overrides' plans name the upper layer's files.
	for _, lf := range files[:len(layerOverrides)] {
		lines := showDepends(t, l, lf.name)
		assert.Contains(t, lines[len(lines)-1], filepath.Join(upper, lf.rel), lf.name)
	}
}

// moduleFiles returns the module files under dir by module name.
func moduleFiles(t *testing.T, dir string) map[string]layerFile {
	out := map[string]layerFile{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "build" || d.Name() == "source") {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() || !depmod.IsModuleFile(d.Name()) {
			return nil
		}
		r, _ := filepath.Rel(dir, p)
		name := strings.ReplaceAll(strings.SplitN(d.Name(), ".", 2)[0], "-", "_")
		out[name] = layerFile{dir: dir, rel: r, name: name}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, out)
	return out
}

// layerSample returns the names of the merged tree's modules.dep to ask
// for: every one with GOKMOD_LAYERS_ALL=1, else every 9th, the overrides
// and every module whose line names one of them.
func layerSample(t *testing.T, merged string, overrides map[string]bool) []string {
	f, err := os.Open(filepath.Join(merged, "modules.dep"))
	require.NoError(t, err)
	defer f.Close()
	all := os.Getenv("GOKMOD_LAYERS_ALL") == "1"
	var names []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for i := 0; sc.Scan(); i++ {
		fields := strings.Fields(strings.Replace(sc.Text(), ":", " ", 1))
		if len(fields) == 0 {
			continue
		}
		var mods []string
		for _, p := range fields {
			mods = append(mods, strings.ReplaceAll(strings.SplitN(filepath.Base(p), ".", 2)[0], "-", "_"))
		}
		if all || i%9 == 0 || slices.ContainsFunc(mods, func(m string) bool { return overrides[m] }) {
			names = append(names, mods[0])
		}
	}
	require.NoError(t, sc.Err())
	return names
}

// TestLayersErrors checks what a layered tree refuses: a lower layer that
// cannot be read, and an empty name, each naming the directory.
func TestLayersErrors(t *testing.T) {
	upper := t.TempDir()
	missing := filepath.Join(t.TempDir(), "absent")
	_, err := modprobe.Open(modprobe.Options{ModuleDir: upper, LowerDirs: []string{missing}, ConfigPaths: []string{}})
	require.Error(t, err)
	assert.True(t, errors.Is(err, fs.ErrNotExist), "%v", err)
	assert.Contains(t, err.Error(), missing)

	_, err = modprobe.Open(modprobe.Options{ModuleDir: upper, LowerDirs: []string{""}, ConfigPaths: []string{}})
	assert.ErrorIs(t, err, modprobe.ErrBadName)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = modprobe.OpenContext(ctx, modprobe.Options{ModuleDir: upper, LowerDirs: []string{t.TempDir()}, ConfigPaths: []string{}})
	assert.ErrorIs(t, err, context.Canceled)
}

// TestLayersLoadFakeKernel loads through a layered tree on the fake
// kernel: the upper tree's b, which needs nothing, hides the base's b,
// which needs a, so loading the base's c inserts the upper b and c only.
func TestLayersLoadFakeKernel(t *testing.T) {
	const rel = "6.0.0-layers"
	base, err := modprobetest.WriteTree(t.TempDir(), rel,
		modprobetest.Module{Name: "a"},
		modprobetest.Module{Name: "b", Depends: []string{"a"}},
		modprobetest.Module{Name: "c", Depends: []string{"b"}, Aliases: []string{"pci:v0000ABCDd*"}},
	)
	require.NoError(t, err)
	upper, err := modprobetest.WriteTree(t.TempDir(), rel,
		modprobetest.Module{Name: "b", Path: "extra/b.ko.xz"},
		modprobetest.Module{Name: "n"},
	)
	require.NoError(t, err)
	k := modprobetest.NewKernel(t)
	require.NoError(t, k.SetRelease(rel))
	ctx := context.Background()

	alone, err := modprobe.Open(k.Options(modprobe.Options{ModuleDir: base, ConfigPaths: []string{}}))
	require.NoError(t, err)
	defer alone.Close()
	assert.Equal(t, []string{"insmod " + base + "/kernel/a.ko", "insmod " + base + "/kernel/b.ko", "insmod " + base + "/kernel/c.ko"}, trimmed(showDepends(t, alone, "c")))

	cache := &depmod.ModuleCache{}
	l, err := modprobe.Open(k.Options(modprobe.Options{ModuleDir: upper, LowerDirs: []string{base}, ConfigPaths: []string{}, LayerCache: cache}))
	require.NoError(t, err)
	defer l.Close()
	// A second Loader with the cache plans the same.
	again, err := modprobe.Open(k.Options(modprobe.Options{ModuleDir: upper, LowerDirs: []string{base}, ConfigPaths: []string{}, LayerCache: cache}))
	require.NoError(t, err)
	defer again.Close()
	assert.Equal(t, showDepends(t, l, "c"), showDepends(t, again, "c"))
	assert.Equal(t, []string{"insmod " + upper + "/extra/b.ko.xz", "insmod " + base + "/kernel/c.ko"}, trimmed(showDepends(t, l, "c")))
	mods, err := l.Lookup(ctx, "pci:v0000ABCDd00001234")
	require.NoError(t, err)
	require.Len(t, mods, 1)
	assert.Equal(t, base+"/kernel/c.ko", mods[0].Path, "an alias of the base tree")
	mods, err = l.Lookup(ctx, "n")
	require.NoError(t, err)
	assert.Equal(t, upper+"/kernel/n.ko", mods[0].Path)

	require.NoError(t, l.Load(ctx, "pci:v0000ABCDd00001234"))
	assert.Equal(t, []string{"b", "c"}, k.Inserted(), "the upper b, which needs no a")
}

// trimmed returns lines without their surrounding blanks.
func trimmed(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimSpace(l)
	}
	return out
}
