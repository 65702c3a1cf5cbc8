package kmodimage

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// ErrOutsideRoot reports a path that leads outside the directory it must
// stay in: the module directory or the firmware path of a worker
// configuration, resolved below the shared directory through a symbolic
// link that points elsewhere.
var ErrOutsideRoot = errors.New("path leads outside its root directory")

// resolveIn returns the path rel names below root with symbolic links
// resolved, or an error wrapping ErrOutsideRoot when it leads outside
// root. When rel's file does not exist, its nearest existing ancestor is
// checked instead and the path is returned unresolved, so that the
// caller reports it missing.
//
// The check and the later use are two steps: a directory that another
// process changes in between can still move. The worker's shared
// directory is written before the worker runs (KMM mounts it read-only).
func resolveIn(root, rel string) (string, error) {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", err
	}
	p := filepath.Join(realRoot, rel)
	for cand := p; ; cand = filepath.Dir(cand) {
		real, err := filepath.EvalSymlinks(cand)
		if errors.Is(err, fs.ErrNotExist) && cand != realRoot {
			continue
		}
		if err != nil {
			return "", err
		}
		if !inDir(real, realRoot) {
			return "", fmt.Errorf("%w: %s resolves to %s, outside %s", ErrOutsideRoot, filepath.Join(root, rel), real, root)
		}
		if cand != p {
			return p, nil
		}
		return real, nil
	}
}

// inDir reports whether the clean path p is dir or lies below it.
func inDir(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}
