package kernel

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gokmod/modprobe/internal/fileio"
)

// LoadedModule is one line of /proc/modules.
type LoadedModule struct {
	Name   string
	Size   int64
	Refcnt int    // -1 when the kernel shows "-" (no unloading)
	Users  string // the fourth field: holders separated by commas, or "-"
	State  string // Live, Loading or Unloading
}

// maxProcModules bounds how much of /proc/modules is read.
const maxProcModules = 64 << 20

// ReadProcModules lists the modules in procfs's modules file, in its order
// (the most recently loaded first).
func ReadProcModules(procfs string) ([]LoadedModule, error) {
	path := filepath.Join(procfs, "modules")
	b, err := fileio.ReadFile(path, maxProcModules)
	if err != nil {
		return nil, err
	}
	var mods []LoadedModule
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		m := LoadedModule{Name: f[0], Refcnt: -1}
		if len(f) > 1 {
			m.Size, err = strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: bad size %q", path, i+1, f[1])
			}
		}
		if len(f) > 2 {
			if n, err := strconv.Atoi(f[2]); err == nil {
				m.Refcnt = n
			}
		}
		if len(f) > 3 {
			m.Users = f[3]
		}
		if len(f) > 4 {
			m.State = f[4]
		}
		mods = append(mods, m)
	}
	return mods, nil
}
