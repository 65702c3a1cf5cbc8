package modprobe

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/gokmod/modprobe/internal/fileio"
)

// DenyFile is the host's deny list file, which gokmod's tools read at
// every start, whoever runs them: an administrator, an install command,
// a container runtime's hook, or the kernel itself when it asks
// /proc/sys/kernel/modprobe for a module (request_module, with the
// kernel's environment, which no GOKMOD_DENY reaches). Its entries add to
// GOKMOD_DENY's. A missing file denies nothing.
const DenyFile = "/etc/gokmod/deny.conf"

// DenyFileEnv names another deny list file than DenyFile (tests, a
// different layout); set and empty, no file is read.
const DenyFileEnv = "GOKMOD_DENY_FILE"

// MaxDenyFileSize bounds a deny list file.
const MaxDenyFileSize = 1 << 20

// ErrDenyFile: a deny list file that exists could not be read or has an
// entry that is not a module name or pattern. A tool that meets it loads
// nothing: a policy it cannot read is not an empty one.
var ErrDenyFile = errors.New("bad deny list file")

// ReadDenyFile reads a deny list file for Options.Deny: module names and
// modprobe.d-style patterns, separated by white space or commas, '#'
// starting a comment to the end of its line. A file that does not exist
// gives nil and no error; any other failure (a directory, a FIFO, which
// is refused without waiting, a file over MaxDenyFileSize, an entry with
// a character no module name has) wraps ErrDenyFile and names the file,
// and the line for a bad entry.
func ReadDenyFile(path string) ([]string, error) {
	data, err := fileio.ReadInput(path, MaxDenyFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDenyFile, err)
	}
	var out []string
	for i, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		for _, e := range SplitDenyList(line) {
			if strings.ContainsAny(e, "\x00\v\f\r/") {
				return nil, fmt.Errorf("%w: %s:%d: %q is not a module name or pattern", ErrDenyFile, path, i+1, e)
			}
			out = append(out, e)
		}
	}
	return out, nil
}
