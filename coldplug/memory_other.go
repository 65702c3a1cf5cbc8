//go:build !linux

package coldplug

// physicalMemory returns 0: unknown outside Linux.
func physicalMemory() uint64 { return 0 }
