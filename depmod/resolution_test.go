package depmod

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/internal/testmod"
)

// TestResolveDebian: Resolve on Debian 12's tree with its Module.symvers
// gives every module the dependencies modules.dep (kmod's depmod's) lists
// first-level, and finds every import a kernel or module symbol of the
// same CRC, as depmod -e -E reports nothing on the tree.
func TestResolveDebian(t *testing.T) {
	root, release := testmod.DebianTree(t)
	symvers := testmod.DebianSymvers(t)
	res, err := Resolve(t.Context(), Options{BaseDir: root, Release: release, Symvers: symvers, ConfigPaths: []string{}})
	require.NoError(t, err)
	require.Greater(t, len(res), 3000)
	byName := map[string]*Resolved{}
	for i := range res {
		byName[res[i].Name] = &res[i]
		for _, imp := range res[i].Imports {
			assert.False(t, imp.Unknown(), "%s needs unknown symbol %s", res[i].Path, imp.Name)
			assert.False(t, imp.Mismatch(), "%s disagrees about %s", res[i].Path, imp.Name)
		}
	}
	macvtap := byName["macvtap"]
	require.NotNil(t, macvtap)
	var deps []string
	for _, d := range macvtap.Deps {
		deps = append(deps, strings.SplitN(filepath.Base(d), ".", 2)[0])
	}
	slices.Sort(deps)
	assert.Equal(t, []string{"macvlan", "tap"}, deps)
	i := slices.IndexFunc(macvtap.Imports, func(imp Import) bool { return imp.Name == "module_layout" })
	require.GreaterOrEqual(t, i, 0)
	assert.True(t, macvtap.Imports[i].Found && macvtap.Imports[i].OwnerCRCKnown && macvtap.Imports[i].Owner == "")
	assert.Equal(t, "GPL", func() string {
		for _, kv := range macvtap.Info {
			if kv.Key == "license" {
				return kv.Value
			}
		}
		return ""
	}())
}
