package depmod

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/internal/elfmod"
	"github.com/gokmod/modprobe/internal/testmod"
)

// TestModuleCache: a second Resolve given the same ModuleCache takes a
// file's symbols from the cache while the file is unchanged, and reads
// the file again once it changed; the results equal an uncached run's.
func TestModuleCache(t *testing.T) {
	root := writeTree(t, &testmod.Tree{Modules: []testmod.TreeModule{
		tmod("kernel/a.ko", []string{"a_fn"}, nil, "license=GPL"),
		tmod("kernel/b.ko.xz", []string{"b_fn"}, []string{"a_fn"}),
		tmod("kernel/c.ko", nil, []string{"b_fn"}),
	}})
	opts := Options{BaseDir: root, Release: rel, ConfigPaths: []string{}}
	plain, err := Resolve(t.Context(), opts)
	require.NoError(t, err)

	cache := &ModuleCache{}
	opts.Cache = cache
	first, err := Resolve(t.Context(), opts)
	require.NoError(t, err)
	assert.Equal(t, plain, first)
	require.Len(t, cache.entries, 3)

	// An entry for an unchanged file is used: doctored, it shows.
	c := filepath.Join(root, "lib/modules", rel, "kernel/c.ko")
	e := cache.entries[c]
	e.imports = []elfmod.Symbol{{Name: "a_fn", Bind: elfmod.STBGlobal}}
	cache.entries[c] = e
	second, err := Resolve(t.Context(), opts)
	require.NoError(t, err)
	i := slices.IndexFunc(second, func(r Resolved) bool { return r.Path == c })
	require.GreaterOrEqual(t, i, 0)
	require.Len(t, second[i].Imports, 1)
	assert.Equal(t, "a_fn", second[i].Imports[0].Name)

	// A changed file is read again.
	img, err := (&testmod.Module{Name: "c", Uses: []string{"b_fn", "a_fn"}}).ELF()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(c, img, 0o644))
	later := time.Now().Add(time.Minute)
	require.NoError(t, os.Chtimes(c, later, later))
	third, err := Resolve(t.Context(), opts)
	require.NoError(t, err)
	var names []string
	for _, imp := range third[i].Imports {
		names = append(names, imp.Name)
	}
	assert.ElementsMatch(t, []string{"b_fn", "a_fn"}, names)
}
