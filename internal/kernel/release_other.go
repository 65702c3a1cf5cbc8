//go:build !linux

package kernel

import (
	"errors"
	"fmt"
	"syscall"
)

// Release returns the running kernel's release; it is not available on
// this system.
func Release() (string, error) {
	return "", fmt.Errorf("kernel release: %w", errors.ErrUnsupported)
}

// ENODATA is Linux's "No data available" (61), which kmod's tools report
// for a module without the section asked for; the system gokmod is built
// for may not have it.
const ENODATA = syscall.Errno(61)
