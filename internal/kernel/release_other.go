//go:build !linux

package kernel

import (
	"errors"
	"fmt"
)

// Release returns the running kernel's release; it is not available on
// this system.
func Release() (string, error) {
	return "", fmt.Errorf("kernel release: %w", errors.ErrUnsupported)
}
