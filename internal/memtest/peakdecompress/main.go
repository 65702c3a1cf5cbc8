// Command peakdecompress reads a module file as a Loader would, with
// modprobe.ReadModuleFile, and prints how much memory that took at its
// peak: "PEAK heap=BYTES rss=BYTES err=MESSAGE". TestDecompressPeakMemory
// builds it without the race detector, whose shadow memory would make the
// resident set no measure, and runs it once for each bomb.
//
// Usage: peakdecompress FILE LIMIT
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/memtest"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: peakdecompress FILE LIMIT")
		os.Exit(2)
	}
	limit, err := strconv.ParseInt(os.Args[2], 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	debug.FreeOSMemory()
	rss0, err := memtest.ResetPeakRSS()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var img []byte
	heap := memtest.PeakHeap(func() { img, err = modprobe.ReadModuleFile(os.Args[1], limit) })
	rss, rerr := memtest.PeakRSS()
	if rerr != nil {
		fmt.Fprintln(os.Stderr, rerr)
		os.Exit(1)
	}
	runtime.KeepAlive(img)
	fmt.Printf("PEAK heap=%d rss=%d err=%v\n", heap, rss-min(rss, rss0), err)
}
