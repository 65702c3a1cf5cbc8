package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gokmod/modprobe/kmodimage"
	"github.com/gokmod/modprobe/preflight"
)

// preflight is kmm preflight: it pulls the image's modules for --kernel
// (as kmm pull does, into a temporary directory removed afterwards) and
// checks them against the target tree --basedir as gokmod preflight
// does, naming each module by the image and its path there. KMM's own
// preflight validation only checks that the image exists.
func (c *kmmCmd) preflight(ctx context.Context) int {
	prog := "gokmod kmm preflight"
	if len(c.operands) != 1 || c.image == "" || c.kernel == "" || c.baseDir == "" {
		fmt.Fprintf(c.e.Stderr, "Usage: %s --image REF --kernel RELEASE --basedir DIR [--symvers FILE] [--cert FILE]... (see gokmod kmm -h)\n", prog)
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(c.e.Stderr, "%s: %v\n", prog, c.e.Explain(err))
		return 1
	}
	dir, err := os.MkdirTemp("", "gokmod-preflight-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	dirName := cmp.Or(c.dirName, kmodimage.DefaultDirName)
	pull, err := c.pullOptions(true)
	if err != nil {
		return fail(err)
	}
	opts := kmodimage.ExtractOptions{DirName: dirName, KernelVersion: c.kernel, HostModules: c.hostModules}
	if _, err := kmodimage.PullExtract(ctx, c.image, dir, kmodimage.PullExtractOptions{Pull: pull, Extract: opts}); err != nil {
		return fail(err)
	}
	modDir := filepath.Join(dir, dirName, "lib/modules", c.kernel)
	target := preflight.Options{Target: preflight.Target{BaseDir: c.baseDir, Release: c.kernel, Symvers: c.symvers}}
	display := func(p string) string { return c.image + ":" + strings.TrimPrefix(p, dir) }
	return preflightRun(c.e, prog, target, c.certs, []string{modDir}, display)
}
