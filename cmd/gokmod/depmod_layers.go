package main

import (
	"path/filepath"

	"github.com/gokmod/modprobe/depmod"
	"github.com/gokmod/modprobe/internal/cli"
	"github.com/gokmod/modprobe/internal/kernel"
)

// depmodLayers makes opts index a layered tree when GOKMOD_LOWER_DIRS is
// set: the module directory the options name over the directories the
// variable names. Such a tree is never written into a layer: -n prints
// it, -o writes it into OUTDIR's module directory (kmod 30's gokmod -o:
// into the directory). It returns false, having said why, when the tree
// cannot be indexed so.
func depmodLayers(e *env, log *toolLog, opts *depmod.Options) (ok, layered bool) {
	v, set := e.Getenv(cli.LowerDirsEnv)
	if !set || v == "" {
		return true, false
	}
	release := opts.Release
	if release == "" {
		r, err := kernel.Release()
		if err != nil {
			log.printf(logErr, "uname() failed: %s\n", err)
			return false, true
		}
		release = r
	}
	layers := []string{depmod.ModuleDir(opts.BaseDir, opts.ModuleDirectory, release)}
	for _, d := range filepath.SplitList(v) {
		if d == "" {
			continue
		}
		abs, okAbs := absoluteCwd(d)
		if !okAbs {
			log.printf(logErr, "%s: %s: no working directory\n", cli.LowerDirsEnv, d)
			return false, true
		}
		layers = append(layers, abs)
	}
	opts.Layers = layers
	switch {
	case opts.DryRun != nil, opts.OutputDir != "":
	case opts.OutDir != "":
		opts.OutputDir = depmod.ModuleDir(opts.OutDir, opts.ModuleDirectory, release)
		opts.OutDir = ""
	default:
		log.printf(logErr, "%s: a layered tree is written with -n or -o, never into a layer\n", cli.LowerDirsEnv)
		return false, true
	}
	return true, true
}
