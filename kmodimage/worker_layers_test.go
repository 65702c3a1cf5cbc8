package kmodimage

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/modprobetest"
)

// TestWorkerLowerDirs: with the host's module directory as a lower layer,
// an image module that needs an in-tree module loads it from the host,
// with no copy of it in the image; without, the load fails as KMM's does.
func TestWorkerLowerDirs(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	img := filepath.Join(n.shared, "layered")
	imgDir, err := modprobetest.WriteTree(img, rel,
		modprobetest.Module{Name: "ice", Path: "extra/ice.ko"},
		modprobetest.Module{Name: "needs_ice", Path: "extra/needs_ice.ko", Depends: []string{"ice"}},
	)
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(imgDir, "extra/ice.ko"))) // in-tree: the host's
	cfg := config(func(c *ModuleConfig) {
		c.InTreeModulesToRemove = nil
		c.Modprobe = ModprobeSpec{ModuleName: "needs_ice", DirName: "/layered"}
	})

	assert.Error(t, n.w.Load(ctx, cfg), "the image alone lacks ice")
	assert.NotContains(t, n.inserts(), "ice")
	before := len(n.inserts())

	n.w.Options.LowerDirs = []string{filepath.Join(n.host, "lib/modules", rel)}
	require.NoError(t, n.w.Load(ctx, cfg))
	assert.Equal(t, []string{"ice", "needs_ice"}, n.inserts()[before:])
}
