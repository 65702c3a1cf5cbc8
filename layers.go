package modprobe

import (
	"context"
	"os"
	"strings"

	"github.com/gokmod/modprobe/depmod"
	"github.com/gokmod/modprobe/internal/index"
)

// indexLayers indexes the layered tree of the module directory over lower
// (Options.LowerDirs) in memory and makes it the Loader's indexes; it
// returns the files depmod made, for the configuration's modules.softdep
// and modules.weakdep.
func (l *Loader) indexLayers(ctx context.Context, lower []string, cache *depmod.ModuleCache) (map[string][]byte, error) {
	layers := []string{l.moduleDir}
	for _, d := range lower {
		if d == "" || strings.IndexByte(d, 0) >= 0 {
			return nil, moduleErr(OpOpen, "", d, ErrBadName)
		}
		if !strings.HasPrefix(d, "/") {
			wd, err := os.Getwd()
			if err != nil {
				return nil, moduleErr(OpOpen, "", d, err)
			}
			d = wd + "/" + d
		}
		layers = append(layers, d)
	}
	files, err := depmod.Indexes(ctx, depmod.Options{Layers: layers, Compat: l.compat, Cache: cache})
	if err != nil {
		return nil, moduleErr(OpOpen, "", strings.Join(layers, ":"), err)
	}
	idx, err := index.FromData(l.moduleDir, files)
	if err != nil {
		return nil, moduleErr(OpOpen, "", l.moduleDir, err)
	}
	l.idxOnce.Do(func() { l.idx = idx })
	l.layers = layers
	return files, nil
}

// Layers returns the module directories of the Loader's tree, in
// precedence order: the module directory, then Options.LowerDirs made
// absolute. A Loader without lower directories returns nil.
func (l *Loader) Layers() []string {
	return append([]string(nil), l.layers...)
}
