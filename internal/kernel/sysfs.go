package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/gokmod/modprobe/internal/fileio"
)

// InitState is a module's state as /sys/module/NAME/initstate reports it.
type InitState int

// Module states.
const (
	NotLoaded InitState = iota // no /sys/module/NAME
	Live                       // "live"
	Coming                     // "coming", or the directory exists without initstate
	Going                      // "going"
)

func (s InitState) String() string {
	switch s {
	case Live:
		return "live"
	case Coming:
		return "coming"
	case Going:
		return "going"
	}
	return "not loaded"
}

// ErrBadState is wrapped by errors about an initstate file with unknown
// contents.
var ErrBadState = errors.New("unknown module state")

// StateError reports an initstate file that could not be read or holds an
// unknown value. Its message is libkmod's.
type StateError struct {
	Path    string
	Content string // what the file held, when it was read
	Err     error
}

func (e *StateError) Error() string {
	if errors.Is(e.Err, ErrBadState) {
		return fmt.Sprintf("unknown %s: '%s'", e.Path, e.Content)
	}
	return fmt.Sprintf("could not read from '%s': %v", e.Path, e.Err)
}

// Unwrap returns the underlying error.
func (e *StateError) Unwrap() error { return e.Err }

// ReadInitState reads the state of module name under the sysfs mount
// point sysfs. A missing module directory is NotLoaded with a nil error;
// a directory without initstate is Coming, because the kernel creates the
// directory before the file, as libkmod assumes.
func ReadInitState(sysfs, name string) (InitState, error) {
	dir := filepath.Join(sysfs, "module", name)
	path := filepath.Join(dir, "initstate")
	buf, err := fileio.ReadFile(path, 31)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Op == "read" {
			return NotLoaded, &StateError{Path: path, Err: pe.Err}
		}
		if fileio.IsDir(dir) {
			return Coming, nil
		}
		return NotLoaded, nil
	}
	switch s := string(buf); s {
	case "live\n":
		return Live, nil
	case "coming\n":
		return Coming, nil
	case "going\n":
		return Going, nil
	default:
		return NotLoaded, &StateError{Path: path, Content: s, Err: ErrBadState}
	}
}

// IsBadState reports whether err is about an initstate file with unknown
// contents.
func IsBadState(err error) bool { return errors.Is(err, ErrBadState) }
