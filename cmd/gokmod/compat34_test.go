package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Behaviour of kmod 31 to 34.2 that needs a kernel (the fake one here);
// the host differentials (diff_debian13_test.go) check the rest against
// Debian 13's kmod 34.2 itself.

// kmod30Env returns a fresh environment for a tool run that follows kmod
// 30 (the tool may add MODPROBE_OPTIONS to it).
func kmod30Env() map[string]string { return map[string]string{"GOKMOD_COMPAT": "kmod30"} }

// TestModprobeModulePathLoads: modprobe PATH loads the file, after its
// modules.dep dependencies from the tree, with the options modprobe.d
// gives its name; kmod 30 looks the path up as a name.
func TestModprobeModulePathLoads(t *testing.T) {
	root, k := fakeTree(t)
	dir := root + "/lib/modules/" + fakeRelease
	out := t.TempDir()
	data, err := os.ReadFile(dir + "/kernel/c.ko")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out+"/c.ko", data, 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(out, "c.conf")
	if err := os.WriteFile(conf, []byte("options c cfg=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect(t, runFakeEnv(k, kmod30Env(), "modprobe", "-d", root, "-C", conf, out+"/c.ko"), 1, "",
		"modprobe: FATAL: Module "+out+"/c.ko not found in directory "+dir+"\n")
	expect(t, runFake(k, "modprobe", "-d", root, "-C", conf, "-v", out+"/c.ko"), 0,
		"insmod "+dir+"/kernel/a.ko \ninsmod "+dir+"/kernel/b.ko \ninsmod "+out+"/c.ko cfg=1 \n", "")
	for _, m := range []string{"a", "b", "c"} {
		if !k.IsLive(m) {
			t.Errorf("%s not live", m)
		}
	}
	expect(t, runFake(k, "modprobe", "-d", root, "--first-time", out+"/c.ko"), 1, "",
		"modprobe: ERROR: could not insert 'c': Module already in kernel\n")
	expect(t, runFake(k, "modprobe", "-d", root, out+"/nosuch.ko"), 1, "",
		"modprobe: FATAL: Failed to get module from path "+out+"/nosuch.ko: No such file or directory\n")
	// GOKMOD_JOBS loads names in parallel; a path goes the sequential way.
	expect(t, runFakeEnv(k, map[string]string{"GOKMOD_JOBS": "4"}, "modprobe", "-d", root, "-a", "x", out+"/c.ko", "p"), 0, "", "")
	if !k.IsLive("x") || !k.IsLive("p") {
		t.Error("x or p not live after -a with a path")
	}
}

// TestModprobeRemoveHoldersTwice: with --remove-holders, b's holder c goes
// first and takes b with it in its dependency pass; kmod 30 and 34.2 then
// delete b again, and the kernel's ENOENT fails the run (a, b's
// dependency, stays). Only libkmod's message differs.
func TestModprobeRemoveHoldersTwice(t *testing.T) {
	for _, c := range []struct {
		env map[string]string
		msg string
	}{
		{kmod30Env(), "modprobe: ERROR: ../libkmod/libkmod-module.c:856 kmod_module_remove_module() could not remove 'b': No such file or directory\n"},
		{map[string]string{}, "modprobe: ERROR: could not remove 'b': No such file or directory\n"},
	} {
		root, k := fakeTree(t)
		expect(t, runFake(k, "modprobe", "-d", root, "c"), 0, "", "")
		expect(t, runFakeEnv(k, c.env, "modprobe", "-d", root, "-rv", "--remove-holders", "b"), 1, "rmmod c\nrmmod b\nrmmod b\n", c.msg)
		if !k.IsLive("a") || k.IsLive("b") || k.IsLive("c") {
			t.Errorf("%v: a live %v, b %v, c %v; want only a", c.env, k.IsLive("a"), k.IsLive("b"), k.IsLive("c"))
		}
	}
}

// TestLsmodKmod34: kmod 34's lsmod options, and holder names as libkmod
// makes modules of them: a stray .gitkeep in holders/ (kmod's test trees
// keep one) is the empty name, never ".gitkeep".
func TestLsmodKmod34(t *testing.T) {
	root, k := fakeTree(t)
	expect(t, runFake(k, "modprobe", "-d", root, "b"), 0, "", "")
	if err := os.WriteFile(filepath.Join(k.SysfsDir(), "module/b/holders/.gitkeep"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	table := "Module                  Size  Used by\nb                   " + sizeOf(t, k, "b") + "  0 \na                   " + sizeOf(t, k, "a") + "  1 b\n"
	expect(t, runFake(k, "lsmod"), 0, table, "")
	expect(t, runFake(k, "lsmod", "-v"), 0, table, "")
	expect(t, runFakeEnv(k, kmod30Env(), "lsmod"), 0, table, "")
	expect(t, runFake(k, "lsmod", "x"), 1, "", "lsmod: ERROR: too many arguments provided.\n")
	expect(t, runFakeEnv(k, kmod30Env(), "lsmod", "x"), 1, "", "Usage: /sbin/lsmod\n")
	if o := runFake(k, "lsmod", "-h"); o.Code != 0 || !strings.HasPrefix(o.Stdout, "Usage:\n\tlsmod [options]\n") {
		t.Errorf("lsmod -h: %s", o)
	}
	// No /proc/modules: libkmod's message, then lsmod's, in each
	// release's format.
	if err := os.Remove(filepath.Join(k.ProcDir(), "modules")); err != nil {
		t.Fatal(err)
	}
	pm := filepath.Join(k.ProcDir(), "modules")
	expect(t, runFake(k, "lsmod"), 1, "",
		"lsmod: ERROR: could not open "+pm+": No such file or directory\nlsmod: ERROR: could not get list of modules: No such file or directory\n")
	expect(t, runFakeEnv(k, kmod30Env(), "lsmod"), 1, "",
		"libkmod: ERROR ../libkmod/libkmod-module.c:1725 kmod_module_new_from_loaded: could not open "+pm+": No such file or directory\nError: could not get list of modules: No such file or directory\n")
}

// TestInsmodKmod34: kmod 34's insmod takes -f, -s and -v (and no longer
// the ignored -p), and prints libkmod's messages in its own format.
func TestInsmodKmod34(t *testing.T) {
	root, k := fakeTree(t)
	dir := root + "/lib/modules/" + fakeRelease
	expect(t, runFake(k, "insmod", "-p", dir+"/kernel/a.ko"), 1, "", "/sbin/insmod: invalid option -- 'p'\n")
	expect(t, runFakeEnv(k, kmod30Env(), "insmod", "-p", dir+"/kernel/a.ko"), 0, "", "")
	expect(t, runFake(k, "insmod", "-v", "--force", dir+"/kernel/x.ko"), 0, "", "")
	expect(t, runFakeEnv(k, kmod30Env(), "insmod", "-v", dir+"/kernel/p.ko"), 1, "", "/sbin/insmod: invalid option -- 'v'\n")
	// -s: the messages go to syslog, none to stderr.
	expect(t, runFake(k, "insmod", "-s", dir+"/kernel/nosuch.ko"), 1, "", "")
	expect(t, runFakeEnv(k, kmod30Env(), "insmod", "-s", dir+"/kernel/nosuch.ko"), 1, "",
		"insmod: ERROR: could not load module "+dir+"/kernel/nosuch.ko: No such file or directory\n")
	for _, m := range []string{"a", "x"} {
		if !k.IsLive(m) {
			t.Errorf("%s not live", m)
		}
	}
}

// TestModprobeNoStderr: without a standard error, kmod 31 and later log to
// syslog (so nothing reaches the closed stream); kmod 30 writes to it.
func TestModprobeNoStderr(t *testing.T) {
	root := writeIndexTree(t, "kernel/a.ko:\n", nil)
	for _, c := range []struct {
		compat string
		want   string
	}{
		{"", ""},
		{"kmod30", "modprobe: FATAL: Module nope not found in directory " + root + "/lib/modules/1.0\n"},
	} {
		var out, errb bytes.Buffer
		vars := map[string]string{"GOKMOD_COMPAT": c.compat}
		e := &env{
			Stdin:    strings.NewReader(""),
			Stdout:   &out,
			Stderr:   &errb,
			NoStderr: true,
			Getenv:   func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
			Setenv:   func(k, v string) { vars[k] = v },
		}
		code := run(e, []string{"/sbin/modprobe", "-d", root, "-S", "1.0", "-C", "/dev/null", "nope"})
		if code != 1 || errb.String() != c.want || out.String() != "" {
			t.Errorf("GOKMOD_COMPAT=%q: exit %d, stderr %q; want 1, %q", c.compat, code, errb.String(), c.want)
		}
	}
}
