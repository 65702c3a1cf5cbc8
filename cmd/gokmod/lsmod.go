package main

import (
	"fmt"
	"strings"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/kmodlog"
)

func runLsmod(e *env, argv0 string, args []string) (status int) {
	t := newSimpleTool(e, "lsmod")
	defer t.finish(&status)
	if len(args) != 0 {
		fmt.Fprintf(e.stderr, "Usage: %s\n", argv0)
		return 1
	}
	// lsmod needs no module directory; give the Loader one that is never
	// read, so that an unknown kernel release is no error.
	l, err := modprobe.Open(e.loaderOptions(modprobe.Options{ModuleDir: "/", ConfigPaths: []string{}}))
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: kmod_new() failed!\n")
		return 1
	}
	mods, err := l.Loaded()
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: could not get list of modules: %s\n", kmodlog.Strerror(errnoOf(err)))
		return 1
	}
	fmt.Fprintf(t.out, "Module                  Size  Used by\n")
	for _, m := range mods {
		fmt.Fprintf(t.out, "%-19s %8d  %d", m.Name, m.Size, m.Refcnt)
		if len(m.Holders) > 0 {
			fmt.Fprintf(t.out, " %s", strings.Join(m.Holders, ","))
		}
		fmt.Fprintf(t.out, "\n")
	}
	return 0
}
