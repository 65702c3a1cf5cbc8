package kernel

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// Release returns the running kernel's release, as uname -r prints it.
func Release() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", err
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}

// ENODATA is Linux's "No data available", which kmod's tools report for
// a module without the section asked for.
const ENODATA = syscall.ENODATA
