// Package memtest measures memory for gokmod's tests: the peak growth of
// the Go heap while a function runs, and the process's peak resident set.
package memtest

import (
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// PeakHeap runs f and returns how much the heap (live objects and those
// not yet swept) grew at most while it ran, sampled every millisecond.
func PeakHeap(f func()) uint64 {
	read := func(s []metrics.Sample) uint64 {
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	base := read([]metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}})
	var peak uint64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, read(s))
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(stop)
	<-sampled
	return peak - min(peak, base)
}

// ResetPeakRSS makes the process's peak resident set (VmHWM) its current
// one, and returns that.
func ResetPeakRSS() (uint64, error) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return 0, fmt.Errorf("resetting the peak resident set: %w", err)
	}
	return status("VmRSS")
}

// PeakRSS returns the process's peak resident set (VmHWM) in bytes.
func PeakRSS() (uint64, error) { return status("VmHWM") }

// status returns a field of /proc/self/status in bytes.
func status(field string) (uint64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("/proc/self/status: %q", line)
			}
			n, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/self/status: %q: %w", line, err)
			}
			return n << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}
