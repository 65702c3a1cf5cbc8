//go:build !linux

package vmtest

import "errors"

// mountGuest fails: a guest runs a Linux kernel.
func mountGuest() error { return errors.ErrUnsupported }

// powerOff does nothing outside Linux.
func powerOff() {}
