package main

import (
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/modprobeopt"
	"github.com/gokmod/modprobe/internal/testmod"
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
}

// TestCompatVersion: every tool's -V is kmod's for the release
// GOKMOD_COMPAT selects, kmod 34.2 by default, with the feature line of a
// kmod built with every feature; an unknown value is an error.
func TestCompatVersion(t *testing.T) {
	const (
		v34 = "kmod version 34.2\n+ZSTD +XZ +ZLIB +OPENSSL\n"
		v30 = "kmod version 30\n+ZSTD +XZ +ZLIB +LIBCRYPTO -EXPERIMENTAL\n"
	)
	for _, tool := range []string{"modprobe", "insmod", "rmmod", "lsmod", "modinfo", "depmod"} {
		for _, c := range []struct {
			vars map[string]string
			want string
		}{
			{nil, v34},
			{map[string]string{"GOKMOD_COMPAT": ""}, v34},
			{map[string]string{"GOKMOD_COMPAT": "kmod34"}, v34},
			{map[string]string{"GOKMOD_COMPAT": "latest"}, v34},
			{map[string]string{"GOKMOD_COMPAT": "kmod30"}, v30},
		} {
			if tool == "lsmod" && c.vars["GOKMOD_COMPAT"] == "kmod30" {
				continue // kmod 30's lsmod takes no options
			}
			if o := runOurs(tool, []string{"-V"}, c.vars); o.Code != 0 || o.Stdout != c.want || o.Stderr != "" {
				t.Errorf("%s -V with %v: %s", tool, c.vars, o)
			}
		}
		o := runOurs(tool, []string{"-V"}, map[string]string{"GOKMOD_COMPAT": "kmod31"})
		if o.Code != 1 || o.Stdout != "" || o.Stderr != tool+": ERROR: unknown GOKMOD_COMPAT value 'kmod31' (want kmod34, kmod30 or latest)\n" {
			t.Errorf("%s -V with GOKMOD_COMPAT=kmod31: %s", tool, o)
		}
	}
}

// TestCompatDryRun: -n alone prints nothing in kmod 30 and 34.2 alike
// (printing it came after 34.2), and -n -v prints the actions.
func TestCompatDryRun(t *testing.T) {
	root := writeIndexTree(t, "kernel/a.ko:\n", nil)
	base := []string{"-d", root, "-S", "1.0", "-C", "/dev/null"}
	for _, compat := range []string{"", "kmod30"} {
		vars := map[string]string{"GOKMOD_COMPAT": compat}
		if o := runOurs("modprobe", append(base, "-n", "a"), vars); o.Code != 0 || o.Stdout != "" || o.Stderr != "" {
			t.Errorf("-n with GOKMOD_COMPAT=%q: %s", compat, o)
		}
		want := "insmod " + testmod.ModuleDir(root, "1.0") + "/kernel/a.ko \n"
		if o := runOurs("modprobe", append(base, "-n", "-v", "a"), vars); o.Code != 0 || o.Stdout != want || o.Stderr != "" {
			t.Errorf("-n -v with GOKMOD_COMPAT=%q: %s", compat, o)
		}
	}
}
