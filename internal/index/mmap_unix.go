//go:build unix

package index

import (
	"os"
	"syscall"
)

// mapFile maps size bytes of f read-only. Mapping keeps large indexes out
// of the Go heap and makes opening them cost nothing until a lookup touches
// a page.
func mapFile(f *os.File, size int) ([]byte, func() error, error) {
	data, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_PRIVATE)
	if err != nil {
		return readAll(f, size)
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}
