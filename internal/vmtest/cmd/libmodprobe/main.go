// Command libmodprobe loads modules through the library as a program that
// embeds it would: modprobe.Open with default Options (the running
// kernel's system calls, the default configuration) and the Go runtime's
// default settings (the garbage collector on), unlike gokmod's tools. The
// VM benchmarks (internal/vmtest/guest/bench_test.go) time it beside
// kmod's modprobe and gokmod's, so that the library's path is measured as
// well as the command's.
//
// Usage: libmodprobe [-j JOBS] MODULE...
//
// It loads the modules as "modprobe -a" does (LoadAllWith; with -j above 1,
// independent modules in parallel) and follows kmod's release in
// GOKMOD_COMPAT ("kmod30", or kmod 34 otherwise). Errors go to standard
// error and the exit status is 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/gokmod/modprobe"
)

func main() {
	jobs := flag.Int("j", 1, "load up to `JOBS` independent modules at once")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: libmodprobe [-j JOBS] MODULE...")
		os.Exit(2)
	}
	if err := load(flag.Args(), *jobs); err != nil {
		fmt.Fprintln(os.Stderr, "libmodprobe:", err)
		os.Exit(1)
	}
}

// load loads names with a Loader that has the library's defaults.
func load(names []string, jobs int) error {
	opts := modprobe.Options{}
	if os.Getenv("GOKMOD_COMPAT") == "kmod30" {
		opts.Compat = modprobe.CompatKmod30
	}
	l, err := modprobe.Open(opts)
	if err != nil {
		return err
	}
	defer l.Close()
	return l.LoadAllWith(context.Background(), names, modprobe.LoadOptions{Jobs: jobs})
}
