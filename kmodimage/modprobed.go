package kmodimage

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/gokmod/modprobe/internal/fileio"
)

// ErrModprobedDir reports a Module's modprobedDir that cannot configure
// its modules, as KMM refuses it: missing from the image files, not a
// directory, holding a directory, or holding no regular file.
var ErrModprobedDir = errors.New("unusable modprobe.d directory")

// maxModprobedEntries bounds the entries of an image's modprobe.d
// directory that are read: more than any driver ships.
const maxModprobedEntries = 1024

// modprobedDir returns the directory the Module's modprobedDir names
// below SharedDir, symbolic links resolved, or "" when it has none. KMM's
// rules are checked first: the directory exists and holds at least one
// regular file and no directory (modprobe reads the files ending in
// .conf, as in /etc/modprobe.d). A path that leads outside SharedDir
// wraps ErrOutsideRoot; a directory that breaks a rule, ErrModprobedDir.
func (w *Worker) modprobedDir(m *ModprobeSpec) (string, error) {
	if m.ModprobedDir == "" {
		return "", nil
	}
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("kmodimage: modprobe.modprobedDir %s: %w", m.ModprobedDir, err)
	}
	dir, err := resolveIn(w.sharedDir(), m.ModprobedDir)
	if err != nil {
		return fail(err)
	}
	// A directory only: a FIFO is refused without waiting for a writer.
	f, err := fileio.OpenDir(dir)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrModprobedDir, err))
	}
	defer f.Close()
	entries, err := f.ReadDir(maxModprobedEntries + 1)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrModprobedDir, err))
	}
	if len(entries) > maxModprobedEntries {
		return fail(fmt.Errorf("%w: more than %d entries", ErrModprobedDir, maxModprobedEntries))
	}
	files := 0
	for _, e := range entries {
		switch {
		case e.IsDir():
			return fail(fmt.Errorf("%w: %s is a directory", ErrModprobedDir, filepath.Join(dir, e.Name())))
		case e.Type().IsRegular():
			files++
		}
	}
	if files == 0 {
		return fail(fmt.Errorf("%w: %s holds no regular file", ErrModprobedDir, dir))
	}
	return dir, nil
}
