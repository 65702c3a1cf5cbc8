package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe/modprobetest"

	"github.com/gokmod/modprobe/internal/cli"
)

// The real-kernel suite (internal/vmtest) compares these tools with
// kmod's in a VM; here they run on modprobetest's fake kernel and the
// expectations are kmod's messages (kmod-semantics §3.9, §4.2).

const fakeRelease = "6.1.0-fake"

// fakeTree writes a tree of ELF modules (x; c -> b -> a; p with a
// parameter; bi builtin) with text indexes, and a fake kernel running
// its release.
func fakeTree(t *testing.T) (root string, k *modprobetest.Kernel) {
	t.Helper()
	root = t.TempDir()
	_, err := modprobetest.WriteTree(root, fakeRelease,
		modprobetest.Module{Name: "x"},
		modprobetest.Module{Name: "a"},
		modprobetest.Module{Name: "b", Depends: []string{"a"}},
		modprobetest.Module{Name: "c", Depends: []string{"b"}},
		modprobetest.Module{Name: "p", Params: []string{"count:int"}},
		modprobetest.Module{Name: "bi", Builtin: true},
	)
	if err != nil {
		t.Fatal(err)
	}
	k = modprobetest.NewKernel(t)
	if err := k.SetRelease(fakeRelease); err != nil {
		t.Fatal(err)
	}
	return root, k
}

// runFake runs one of our tools on the fake kernel.
func runFake(k *modprobetest.Kernel, tool string, args ...string) outcome {
	return runFakeEnv(k, map[string]string{}, tool, args...)
}

func runFakeEnv(k *modprobetest.Kernel, vars map[string]string, tool string, args ...string) outcome {
	return runFakeIO(k, vars, "", tool, args...)
}

// runFakeIO runs a tool on the fake kernel with the environment vars and
// stdin as its standard input.
func runFakeIO(k *modprobetest.Kernel, vars map[string]string, stdin, tool string, args ...string) outcome {
	return runFakeCtx(context.Background(), k, vars, stdin, append([]string{"/sbin/" + tool}, args...))
}

// runFakeCtx runs argv on the fake kernel with the environment vars,
// stdin as its standard input, and ctx as the context a
// signal would cancel.
func runFakeCtx(ctx context.Context, k *modprobetest.Kernel, vars map[string]string, stdin string, argv []string) outcome {
	var out, errb bytes.Buffer
	e := &env{
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(key string) (string, bool) { v, ok := vars[key]; return v, ok },
		Setenv: func(key, v string) { vars[key] = v },
		Kernel: &cli.FakeKernel{Kernel: k, Sysfs: k.SysfsDir(), Proc: k.ProcDir(), KmsgPath: k.KmsgPath()},
		Ctx:    ctx,
	}
	code := run(e, argv)
	return outcome{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

func expect(t *testing.T, got outcome, code int, stdout, stderr string) {
	t.Helper()
	want := outcome{Stdout: stdout, Stderr: stderr, Code: code}
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestModprobeLoadAndRemove(t *testing.T) {
	root, k := fakeTree(t)
	dir := root + "/lib/modules/" + fakeRelease
	expect(t, runFake(k, "modprobe", "-d", root, "-v", "c"), 0,
		"insmod "+dir+"/kernel/a.ko \ninsmod "+dir+"/kernel/b.ko \ninsmod "+dir+"/kernel/c.ko \n", "")
	expect(t, runFake(k, "modprobe", "-d", root, "c"), 0, "", "")
	expect(t, runFake(k, "modprobe", "-d", root, "--first-time", "c"), 1, "",
		"modprobe: ERROR: could not insert 'c': Module already in kernel\n")
	expect(t, runFake(k, "modprobe", "-d", root, "--first-time", "bi"), 1, "",
		"modprobe: ERROR: could not insert 'bi': Module already in kernel\n")
	expect(t, runFake(k, "lsmod"), 0,
		"Module                  Size  Used by\nc                   "+sizeOf(t, k, "c")+"  0\nb                   "+sizeOf(t, k, "b")+"  1 c\na                   "+sizeOf(t, k, "a")+"  1 b\n", "")
	expect(t, runFake(k, "modprobe", "-d", root, "-r", "a"), 1, "", "modprobe: FATAL: Module a is in use.\n")
	expect(t, runFake(k, "modprobe", "-d", root, "-r", "bi"), 1, "", "modprobe: FATAL: Module bi is builtin.\n")
	expect(t, runFake(k, "modprobe", "-d", root, "-r", "nosuch"), 1, "", "modprobe: FATAL: Module nosuch not found.\n")
	expect(t, runFake(k, "modprobe", "-d", root, "-rv", "c"), 0, "rmmod c\nrmmod b\n", "")
	expect(t, runFake(k, "modprobe", "-d", root, "-r", "--first-time", "c"), 1, "", "modprobe: FATAL: Module c is not in kernel.\n")
	expect(t, runFake(k, "rmmod", "b"), 1, "", "rmmod: ERROR: Module b is not currently loaded\n")
	expect(t, runFake(k, "rmmod", "a"), 0, "", "")
	// libkmod's message: kmod 30's with its place in libkmod, kmod 34.2's
	// without.
	expect(t, runFakeEnv(k, map[string]string{"GOKMOD_COMPAT": "kmod30"}, "rmmod", "-f", "x"), 1, "", "rmmod: ERROR: ../libkmod/libkmod-module.c:856 kmod_module_remove_module() could not remove 'x': No such file or directory\n"+
		"rmmod: ERROR: could not remove module x: No such file or directory\n")
	expect(t, runFake(k, "rmmod", "-f", "x"), 1, "", "rmmod: ERROR: could not remove 'x': No such file or directory\n"+
		"rmmod: ERROR: could not remove module x: No such file or directory\n")
}

// sizeOf returns the fake kernel's size of a live module, as lsmod pads it.
func sizeOf(t *testing.T, k *modprobetest.Kernel, name string) string {
	b, err := os.ReadFile(filepath.Join(k.SysfsDir(), "module", name, "coresize"))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%8s", strings.TrimSpace(string(b)))
}

func TestModprobeInsertErrors(t *testing.T) {
	root, k := fakeTree(t)
	// b without a: the kernel's unknown symbol
	dir := root + "/lib/modules/" + fakeRelease
	expect(t, runFake(k, "insmod", dir+"/kernel/b.ko"), 1, "", "insmod: ERROR: could not insert module "+dir+"/kernel/b.ko: Unknown symbol in module\n")
	expect(t, runFake(k, "insmod", dir+"/kernel/nosuch.ko"), 1, "", "insmod: ERROR: could not load module "+dir+"/kernel/nosuch.ko: No such file or directory\n")
	expect(t, runFake(k, "insmod", dir+"/kernel/p.ko", "count=x"), 1, "", "insmod: ERROR: could not insert module "+dir+"/kernel/p.ko: Invalid parameters\n")
	expect(t, runFake(k, "insmod", dir+"/kernel/p.ko", "count=4"), 0, "", "")
	expect(t, runFake(k, "insmod", dir+"/kernel/p.ko"), 1, "", "insmod: ERROR: could not insert module "+dir+"/kernel/p.ko: File exists\n")
	if b, _ := os.ReadFile(filepath.Join(k.SysfsDir(), "module/p/parameters/count")); string(b) != "4\n" {
		t.Errorf("count = %q", b)
	}
	if err := os.Remove(dir + "/kernel/a.ko"); err != nil {
		t.Fatal(err)
	}
	// libkmod drops the whole dependency line (and says so), so c goes
	// in alone and the kernel refuses it
	for compat, prefix := range map[string]string{
		"kmod30": "modprobe: ERROR: ../libkmod/libkmod-module.c:191 kmod_module_parse_depline() ctx=",
		"kmod34": "modprobe: ERROR: ctx=",
	} {
		o := runFakeEnv(k, map[string]string{"GOKMOD_COMPAT": compat}, "modprobe", "-d", root, "c")
		if o.Code != 1 || !strings.HasPrefix(o.Stderr, prefix) || !strings.HasSuffix(o.Stderr, "\nmodprobe: ERROR: could not insert 'c': Unknown symbol in module, or unknown parameter (see dmesg)\n") {
			t.Errorf("missing dependency file, GOKMOD_COMPAT=%s:\n%s", compat, o)
		}
	}
	o := runFake(k, "modprobe", "-d", root, "-a", "x", "c", "nosuch")
	if o.Code != 1 || !strings.HasSuffix(o.Stderr, "\nmodprobe: ERROR: could not insert 'c': Unknown symbol in module, or unknown parameter (see dmesg)\n"+
		"modprobe: WARNING: Module nosuch not found in directory "+dir+"\n") {
		t.Errorf("-a with failures:\n%s", o)
	}
	if !k.IsLive("x") {
		t.Error("-a must go on after a failure")
	}
}

func TestModprobeParallelJobs(t *testing.T) {
	root, k := fakeTree(t)
	dir := root + "/lib/modules/" + fakeRelease
	o := runFakeEnv(k, map[string]string{"GOKMOD_JOBS": "4"}, "modprobe", "-d", root, "-a", "c", "x", "nosuch", "p")
	expect(t, o, 1, "", "modprobe: WARNING: Module nosuch not found in directory "+dir+"\n")
	for _, m := range []string{"a", "b", "c", "x", "p"} {
		if !k.IsLive(m) {
			t.Errorf("%s not live", m)
		}
	}
}

// TestKernelEINTRReported: a module whose insertion fails with EINTR (its
// init was interrupted) is reported as kmod reports any errno; only a
// step that gokmod's own signal handling stopped goes unreported.
func TestKernelEINTRReported(t *testing.T) {
	root, k := fakeTree(t)
	k.FailInsert("x", syscall.EINTR)
	expect(t, runFake(k, "modprobe", "-d", root, "x"), 1, "", "modprobe: ERROR: could not insert 'x': Interrupted system call\n")
	expect(t, runFake(k, "modprobe", "-d", root, "-a", "x", "a"), 1, "", "modprobe: ERROR: could not insert 'x': Interrupted system call\n")
	if !k.IsLive("a") {
		t.Error("modprobe -a stopped after a kernel's EINTR")
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
