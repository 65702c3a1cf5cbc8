package depmod

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrLayersOutput: Options.Layers is set, but neither OutputDir nor DryRun
// says where the files go (a layered run never writes into a layer).
var ErrLayersOutput = errors.New("layered tree needs an output directory")

// ErrBadLayer: an entry of Options.Layers is empty or not an absolute path.
var ErrBadLayer = errors.New("bad layer directory")

// Indexes indexes the tree Options name, as Run does, and returns the
// files Run would write (text and binary) by name instead of writing
// them: the way to index a layered tree (Options.Layers) in memory.
// OutputDir and DryRun are ignored.
func Indexes(ctx context.Context, opts Options) (map[string][]byte, error) {
	opts.DryRun, opts.OutputDir, opts.Quick = nil, "", false
	r := newRun(ctx, opts)
	if err := r.setRelease(); err != nil {
		return nil, err
	}
	if err := r.index(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, f := range r.files() {
		var buf bytes.Buffer
		if err := f.build(&buf); err != nil {
			return nil, fmt.Errorf("depmod: %s: %w", f.name, err)
		}
		out[f.name] = buf.Bytes()
	}
	return out, nil
}

// setLayers checks Options.Layers: the first layer plays the module
// directory's part in messages and relative paths.
func (r *run) setLayers() error {
	if len(r.opts.Layers) == 0 {
		return fmt.Errorf("depmod: %w: no layers", ErrBadLayer)
	}
	r.opts.Layers = append([]string(nil), r.opts.Layers...) // cleaned below
	for i, d := range r.opts.Layers {
		if d == "" || !filepath.IsAbs(d) {
			return fmt.Errorf("depmod: %w: Layers[%d] %q is not an absolute path", ErrBadLayer, i, d)
		}
		if t := strings.TrimRight(d, "/"); t != d {
			if t == "" {
				t = "/"
			}
			r.opts.Layers[i] = t
		}
	}
	r.release = r.opts.Release
	r.dirname = r.opts.Layers[0]
	r.root = r.dirname
	r.outdir = r.opts.OutputDir
	return nil
}

// searchLayers walks each layer in turn; searchFile keeps the first
// layer's module of each name.
func (r *run) searchLayers() error {
	for i, dir := range r.opts.Layers {
		r.layer, r.root = i, dir
		if err := r.searchPath(dir); err != nil {
			return err
		}
	}
	// External directories are searched as part of the last layer, the
	// base, whose search rules place them.
	return nil
}

// sortLayers is sort for a layered tree: the layers' modules.order files,
// one after the other, are one file.
func (r *run) sortLayers() {
	var lines [][]byte
	found := false
	for _, dir := range r.opts.Layers {
		data, err := readText(dir + "/modules.order")
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				r.warnf("could not open %s at %s: %s", "modules.order", dir, strerror(err))
			}
			continue
		}
		found = true
		l := fgetsLines(data)
		if !r.orderComplete(dir, l) {
			return
		}
		lines = append(lines, l...)
	}
	if !found {
		r.warnf("could not open %s at %s: %s", "modules.order", r.dirname, strerror(syscall.ENOENT))
		return
	}
	r.sortByOrder(lines)
}

// readLayerFile is readTreeFile for a layered tree: the first layer's
// file that exists.
func (r *run) readLayerFile(name string) ([]byte, bool) {
	for _, dir := range r.opts.Layers {
		data, err := readText(filepath.Join(dir, name))
		if err == nil {
			return data, true
		}
		if !errors.Is(err, fs.ErrNotExist) {
			r.warnf("could not open %s at %s: %s", name, dir, strerror(err))
			return nil, false
		}
	}
	r.warnf("could not open %s at %s: %s", name, r.dirname, strerror(syscall.ENOENT))
	return nil, false
}
