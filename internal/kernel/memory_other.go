//go:build !linux

package kernel

// PhysicalMemory returns 0: unknown on this system.
func PhysicalMemory() uint64 { return 0 }
