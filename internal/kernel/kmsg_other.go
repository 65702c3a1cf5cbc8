//go:build !linux

package kernel

import (
	"errors"
	"fmt"
)

// Kmsg reads the kernel log; it is not available on this system.
type Kmsg struct{}

// OpenKmsg is not available on this system.
func OpenKmsg(path string) (*Kmsg, error) {
	return nil, fmt.Errorf("kernel log: %w", errors.ErrUnsupported)
}

// ReadNew returns nothing on this system.
func (k *Kmsg) ReadNew() ([]string, error) { return nil, nil }

// SeekEnd does nothing on this system.
func (k *Kmsg) SeekEnd() error { return nil }

// Close does nothing on this system.
func (k *Kmsg) Close() error { return nil }
