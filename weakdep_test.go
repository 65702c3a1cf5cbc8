package modprobe_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/modprobetest"
)

// weakdepTree writes a tree whose modules.weakdep and modprobe.d give
// weak dependencies, and opens a Loader of compat on it.
func weakdepTree(t testing.TB, compat modprobe.Compat) *modprobe.Loader {
	root, err := os.MkdirTemp("", "gokmod-weakdep")
	check(err)
	if t != nil {
		t.Cleanup(func() { os.RemoveAll(root) })
	}
	dir, err := modprobetest.WriteTree(root, "6.12.0",
		modprobetest.Module{Name: "drm"},
		modprobetest.Module{Name: "i915", Depends: []string{"drm"}},
		modprobetest.Module{Name: "intel_vsec"},
		modprobetest.Module{Name: "mei_gsc", Aliases: []string{"auxiliary:mei.gsc"}},
		modprobetest.Module{Name: "crc32c_generic"},
	)
	check(err)
	check(os.WriteFile(filepath.Join(dir, "modules.weakdep"), []byte("weakdep i915 intel_vsec\n"), 0o644))
	conf := filepath.Join(root, "modprobe.d")
	check(os.MkdirAll(conf, 0o755))
	// The first matching line applies: the files are read in the order
	// of their names, modules.weakdep before w.conf, so i9* adds nothing
	// for i915.
	check(os.WriteFile(filepath.Join(conf, "w.conf"), []byte("weakdep i9* crc32c_generic\nweakdep drm auxiliary:mei.gsc missing-one crc32c-generic\n"), 0o644))
	l, err := modprobe.Open(modprobe.Options{RootDir: root, KernelRelease: "6.12.0", ConfigPaths: []string{conf}, Compat: compat})
	check(err)
	return l
}

func TestWeakdeps(t *testing.T) {
	ctx := context.Background()
	l := weakdepTree(t, modprobe.CompatKmod34)
	defer l.Close()
	names := func(mods []modprobe.Module) (out []string) {
		for _, m := range mods {
			out = append(out, m.Name)
		}
		return out
	}
	got, err := l.Weakdeps(ctx, "i915")
	require.NoError(t, err)
	assert.Equal(t, []string{"intel_vsec"}, names(got))
	got, err = l.Weakdeps(ctx, "drm")
	require.NoError(t, err)
	assert.Equal(t, []string{"mei_gsc", "crc32c_generic"}, names(got), "an alias is resolved, a name that resolves to nothing left out")
	got, err = l.Weakdeps(ctx, "intel-vsec")
	require.NoError(t, err)
	assert.Empty(t, got)

	// kmod 30 has no weakdep directive.
	l30 := weakdepTree(t, modprobe.CompatKmod30)
	defer l30.Close()
	got, err = l30.Weakdeps(ctx, "drm")
	require.NoError(t, err)
	assert.Empty(t, got)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = l.Weakdeps(cctx, "drm")
	assert.ErrorIs(t, err, context.Canceled)
}

// Weakdeps lists what kmod never loads but an image builder ships along
// (see package closure).
func ExampleLoader_Weakdeps() {
	l := weakdepTree(nil, modprobe.CompatKmod34)
	defer l.Close()
	mods, err := l.Weakdeps(context.Background(), "drm")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range mods {
		fmt.Println(m.Name, m.Alias)
	}
	// Output:
	// mei_gsc auxiliary:mei.gsc
	// crc32c_generic
}
