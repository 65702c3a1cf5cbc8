//go:build !linux

package registrytest

import "syscall"

// childAttr is the registry's process attributes: nothing ends it with
// the test process on this system but the test's own cleanup.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
