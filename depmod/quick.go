package depmod

import (
	"os"

	"github.com/gokmod/modprobe/internal/fileio"
)

// CheckDirs finds the module directory and the one the files go to as
// Run does, and fails as kmod 34's depmod does before any other work when
// one does not fit in PATH_MAX bytes: it logs "Bad directory ...: path too
// long" and returns an error wrapping ErrPathTooLong (kmod 30 checks
// nothing). A command line checks them before -A's UpToDate.
func CheckDirs(opts Options) error {
	r := &run{opts: opts}
	return r.setRelease()
}

// UpToDate reports whether the index of the tree Options name is newer
// than every module file in it (depmod -A's test); errors, a missing
// modules.dep among them, are logged and count as not up to date.
func UpToDate(opts Options) bool {
	r := &run{opts: opts}
	if err := r.setRelease(); err != nil {
		return false
	}
	return r.upToDate() == 1
}

// upToDate is depfile_up_to_date: 1 when no module file of the tree is
// newer than modules.dep, 0 when one is, negative on an error (a missing
// modules.dep, said as kmod says it).
func (r *run) upToDate() int {
	d, err := fileio.OpenDir(r.dirname)
	if err != nil {
		r.errorf("could not open directory %s: %s", r.dirname, strerror(err))
		return -1
	}
	defer d.Close()
	st, err := os.Stat(r.dirname + "/modules.dep")
	if err != nil {
		r.errorf("could not fstatat(%s, modules.dep): %s", r.dirname, strerror(err))
		return -1
	}
	return r.upToDateDir(d, r.dirname+"/", st.ModTime().Unix(), 3)
}

func (r *run) upToDateDir(d *os.File, base string, mtime int64, fd int) int {
	entries, _ := d.ReadDir(-1)
	res := 1
	for _, e := range entries {
		name := e.Name()
		if skipName(name) {
			continue
		}
		st, err := os.Stat(base + name)
		if err != nil {
			r.errorf("fstatat(%d, %s): %s", fd, name, strerror(err))
			continue
		}
		switch {
		case st.IsDir():
			sub, err := fileio.OpenDir(base + name)
			if err != nil {
				r.errorf("openat(%d, %s, O_RDONLY): %s", fd, name, strerror(err))
				continue
			}
			res = r.upToDateDir(sub, base+name+"/", mtime, fd+1)
			sub.Close()
		case st.Mode().IsRegular():
			if !IsModuleFile(name) {
				continue
			}
			if st.ModTime().Unix() <= mtime {
				res = 1
			} else {
				res = 0
			}
		default:
			r.errorf("unsupported file type %s: %o", base+name, unixType(st.Mode()))
			continue
		}
		if res == 0 {
			break
		}
	}
	return res
}
