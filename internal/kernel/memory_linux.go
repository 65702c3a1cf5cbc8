package kernel

import "golang.org/x/sys/unix"

// PhysicalMemory returns the machine's memory in bytes (sysinfo(2)'s
// total RAM), 0 if it cannot be known.
func PhysicalMemory() uint64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}
