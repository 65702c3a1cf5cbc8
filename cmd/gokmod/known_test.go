package main

import (
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/modprobeopt"
)

// TestKnownDifferences pins the places where gokmod modprobe deliberately
// prints something other than Debian's kmod 30.
func TestKnownDifferences(t *testing.T) {
	// -h: the same options, described in gokmod's own words.
	help := runOurs("modprobe", []string{"-h"}, nil)
	if help.Code != 0 || !strings.HasPrefix(help.Stdout, "Usage:\n") {
		t.Errorf("-h: %s", help)
	}
	for _, opt := range modprobeopt.Long() {
		if !strings.Contains(help.Stdout, "--"+opt.Name) {
			t.Errorf("-h does not mention --%s", opt.Name)
		}
	}
	// -V: kmod's first line, which scripts parse, and gokmod's features:
	// it decompresses all three formats itself.
	for env, want := range map[string]string{"": "kmod version 30\n", "latest": "kmod version 34\n"} {
		v := runOurs("modprobe", []string{"-V"}, map[string]string{"GOKMOD_COMPAT": env})
		if v.Code != 0 || !strings.HasPrefix(v.Stdout, want) || v.Stdout != want+features+"\n" {
			t.Errorf("-V with GOKMOD_COMPAT=%q: %s", env, v)
		}
	}
}

// TestCompatLatest checks the behaviour of later kmod releases that
// GOKMOD_COMPAT=latest selects.
func TestCompatLatest(t *testing.T) {
	root := writeIndexTree(t, "kernel/a.ko:\n", nil)
	base := []string{"-d", root, "-S", "1.0", "-C", "/dev/null"}
	latest := map[string]string{"GOKMOD_COMPAT": "latest"}
	// kmod 31+ prints the actions of -n without -v; kmod 30 does not.
	if o := runOurs("modprobe", append(base, "-n", "a"), latest); o.Code != 0 || !strings.HasPrefix(o.Stdout, "insmod ") {
		t.Errorf("-n with latest: %s", o)
	}
	if o := runOurs("modprobe", append(base, "-n", "a"), nil); o.Code != 0 || o.Stdout != "" {
		t.Errorf("-n with kmod 30: %s", o)
	}
}
