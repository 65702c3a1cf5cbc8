package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe/modprobetest"
)

// runcBundle makes an OCI bundle with Debian's runc ("runc spec"), as a
// user of the hook has one, and adds env to its process.env. The process
// runs /bin/true without a terminal, so that runc can start it.
func runcBundle(t *testing.T, env ...string) string {
	t.Helper()
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatalf("runc (Debian package runc, installed by scripts/setup.sh): %v", err)
	}
	dir := t.TempDir()
	if out, err := exec.Command(runc, "spec", "--bundle", dir).CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v\n%s", err, out)
	}
	editSpec(t, dir, func(spec map[string]any) {
		proc := spec["process"].(map[string]any)
		proc["terminal"] = false
		proc["args"] = []any{"/bin/true"}
		for _, e := range env {
			proc["env"] = append(proc["env"].([]any), e)
		}
	})
	return dir
}

// editSpec changes the bundle's config.json.
func editSpec(t *testing.T, bundle string, edit func(map[string]any)) {
	t.Helper()
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	edit(spec)
	if data, err = json.MarshalIndent(spec, "", "\t"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runcState is the state runc 1.1 writes to a prestart hook's stdin
// (TestOCIHookUnderRunc checks the form against runc itself).
func runcState(bundle string) string {
	return fmt.Sprintf(`{"ociVersion":"1.0.2-dev","id":"gokmod-hook","status":"creating","pid":4242,"bundle":%q}`, bundle)
}

func live(k *modprobetest.Kernel) []string {
	l := k.Loaded()
	slices.Sort(l)
	return l
}

func TestOCIHookLoads(t *testing.T) {
	root, k := fakeTree(t)
	dir := root + "/lib/modules/" + fakeRelease
	bundle := runcBundle(t, "KERNEL_MODULES=c,,x,bi")
	o := runFakeIO(k, map[string]string{}, runcState(bundle), "gokmod", "oci-hook", "-d", root, "-v")
	expect(t, o, 0, "insmod "+dir+"/kernel/a.ko \ninsmod "+dir+"/kernel/b.ko \ninsmod "+dir+"/kernel/c.ko \ninsmod "+dir+"/kernel/x.ko \n", "")
	if got := live(k); !reflect.DeepEqual(got, []string{"a", "b", "c", "x"}) {
		t.Fatalf("live %q", got)
	}
	// Every restart runs the hook again: loaded modules are success.
	expect(t, runFakeIO(k, map[string]string{}, runcState(bundle), "gokmod", "oci-hook", "-d", root), 0, "", "")
	if n := len(k.Inserts()); n != 4 {
		t.Fatalf("%d inserts after the second run; want 4", n)
	}
}

func TestOCIHookTriesAll(t *testing.T) {
	root, k := fakeTree(t)
	dir := root + "/lib/modules/" + fakeRelease
	for _, jobs := range []string{"1", "2"} {
		o := runFakeIO(k, map[string]string{"GOKMOD_JOBS": jobs}, runcState(runcBundle(t, "KERNEL_MODULES=nosuch,x")), "oci-hook", "-d", root)
		expect(t, o, 1, "", "modprobe: WARNING: Module nosuch not found in directory "+dir+"\n"+
			`[module-hook] Failed to modprobe modules (["nosuch" "x"]) to host : 1 of 2 failed`+"\n")
		if !k.IsLive("x") {
			t.Fatalf("jobs %s: x not loaded after nosuch failed", jobs)
		}
	}
}

// TestOCIHookCountsNames checks that the summary counts the names that
// failed, not the modules: an alias whose two modules both fail is one
// failed name.
func TestOCIHookCountsNames(t *testing.T) {
	root, k := fakeTree(t)
	dir := root + "/lib/modules/" + fakeRelease
	if err := os.WriteFile(dir+"/modules.alias", []byte("alias twofail x\nalias twofail p\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k.FailInsert("x", syscall.EPERM)
	k.FailInsert("p", syscall.EPERM)
	o := runFakeIO(k, map[string]string{}, runcState(runcBundle(t, "KERNEL_MODULES=twofail,c")), "oci-hook", "-d", root)
	want := `[module-hook] Failed to modprobe modules (["twofail" "c"]) to host : 1 of 2 failed` + "\n"
	if o.Code != 1 || !strings.HasSuffix(o.Stderr, want) || strings.Count(o.Stderr, "Operation not permitted") != 2 {
		t.Fatalf("got %+v; want exit 1, both failures reported, and the summary %q", o, want)
	}
	if !k.IsLive("c") {
		t.Fatal("c not loaded")
	}
}

func TestOCIHookDryRun(t *testing.T) {
	root, k := fakeTree(t)
	o := runFakeIO(k, map[string]string{}, runcState(runcBundle(t, "KERNEL_MODULES=c,x")), "gokmod", "oci-hook", "-n", "-d", root)
	expect(t, o, 0, "c\nx\n", "")
	o = runFakeIO(k, map[string]string{}, runcState(runcBundle(t, "KERNEL_MODULES=c,x=y")), "gokmod", "oci-hook", "-n")
	expect(t, o, 0, "c\nx\n", "[module-hook] warning: KERNEL_MODULES: ignoring \"y\" after a second '='\n")
	expect(t, runFakeIO(k, map[string]string{}, runcState(runcBundle(t)), "gokmod", "oci-hook", "-n"), 0, "", "")
	expect(t, runFakeIO(k, map[string]string{}, runcState(runcBundle(t, "KERNEL_MODULES=c")), "gokmod", "oci-hook", "--state", "poststart", "-d", root), 0, "", "")
	if len(k.Inserts()) != 0 {
		t.Fatalf("inserts %v", k.Inserts())
	}
}

func TestOCIHookRefuses(t *testing.T) {
	root, k := fakeTree(t)
	good := runcBundle(t, "KERNEL_MODULES=x")
	noConfig := t.TempDir()
	badJSON := runcBundle(t)
	if err := os.WriteFile(filepath.Join(badJSON, "config.json"), []byte("{\n \"process\": {\"env\": [\"KERNEL_MODULES=x\",]}\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, state, stderr string
		args                []string
	}{
		{"-r smuggled in", runcState(runcBundle(t, "KERNEL_MODULES=-r,x")),
			`[module-hook] BUNDLE/config.json: process.env[2] KERNEL_MODULES: item "-r": invalid module name: starts with '-'` + "\n", nil},
		{"no trimming", runcState(runcBundle(t, "KERNEL_MODULES=x, c")),
			`[module-hook] BUNDLE/config.json: process.env[2] KERNEL_MODULES: item " c": invalid module name: want letters, digits, '_' and '-' only` + "\n", nil},
		{"empty state", "", "[module-hook] state:1:1: malformed OCI input: no JSON value\n", nil},
		{"state not JSON", "pid=1", "[module-hook] state:1:1: malformed OCI input: invalid character 'p' looking for beginning of value\n", nil},
		{"relative bundle", `{"bundle":"rel"}`, "[module-hook] state: malformed OCI input: bundle \"rel\" is not an absolute path\n", nil},
		{"no config.json", runcState(noConfig), "[module-hook] open " + noConfig + "/config.json: no such file or directory\n", nil},
		{"malformed config.json", runcState(badJSON), "[module-hook] " + badJSON + "/config.json:2:41: malformed OCI input: invalid character ']' looking for beginning of value\n", nil},
		{"an operand", runcState(good), "oci-hook: unexpected argument \"x\". See -h.\n", []string{"x"}},
		{"an unknown option", runcState(good), "/sbin/oci-hook: unrecognized option '--remove'\n", []string{"--remove"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := runFakeIO(k, map[string]string{}, tc.state, "oci-hook", append([]string{"-d", root}, tc.args...)...)
			var st struct{ Bundle string }
			_ = json.Unmarshal([]byte(tc.state), &st)
			expect(t, o, 1, "", strings.ReplaceAll(tc.stderr, "BUNDLE", st.Bundle))
			if len(k.Inserts()) != 0 {
				t.Fatalf("inserts %v", k.Inserts())
			}
		})
	}
}

// TestOCIHookUnderRunc has runc itself run the hook, as a prestart hook
// of a container it starts: the state is runc's own, and a refused
// KERNEL_MODULES fails the container's start. The hook prints its
// requests (-n): this machine's kernel has no module support (the
// real-kernel suite loads through the hook).
func TestOCIHookUnderRunc(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("runc run needs root")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox (Debian package busybox-static): %v", err)
	}
	run := func(t *testing.T, modules string) (out, state string, err error) {
		bundle := runcBundle(t, "KERNEL_MODULES="+modules)
		rootfs := filepath.Join(bundle, "rootfs")
		if err := os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(busybox)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rootfs, "bin/busybox"), data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin/true")); err != nil {
			t.Fatal(err)
		}
		work := t.TempDir()
		// The hook keeps the state runc wrote and what gokmod printed.
		script := `tee "$1/state.json" | "$0" oci-hook -n >"$1/out" 2>&1`
		editSpec(t, bundle, func(spec map[string]any) {
			spec["hooks"] = map[string]any{"prestart": []any{map[string]any{
				"path": "/bin/sh",
				"args": []any{"sh", "-c", script, self, work},
				"env":  []any{"GOKMOD_TEST_AS_TOOL=1", "PATH=/usr/bin:/bin"},
			}}}
		})
		cmd := exec.Command("runc", "--root", t.TempDir(), "run", "--bundle", bundle, "gokmod-hook-"+filepath.Base(work))
		cmdOut, err := cmd.CombinedOutput()
		o, _ := os.ReadFile(filepath.Join(work, "out"))
		s, _ := os.ReadFile(filepath.Join(work, "state.json"))
		if err != nil {
			err = fmt.Errorf("%w: %s", err, cmdOut)
		}
		return string(o), string(s), err
	}

	out, state, err := run(t, "ip_vs,,ip_vs_wrr")
	if err != nil {
		t.Fatalf("runc run: %v", err)
	}
	if out != "ip_vs\nip_vs_wrr\n" {
		t.Fatalf("hook printed %q", out)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(state), &st); err != nil || st["status"] != "creating" || st["bundle"] == "" || st["pid"] == nil {
		t.Fatalf("runc's state %q: %v", state, err)
	}

	out, _, err = run(t, "-r,ip_vs")
	if err == nil || !strings.Contains(err.Error(), "error running hook") {
		t.Fatalf("runc run with -r in KERNEL_MODULES: %v; want the hook to fail the start", err)
	}
	if !strings.Contains(out, `KERNEL_MODULES: item "-r": invalid module name`) {
		t.Fatalf("hook printed %q", out)
	}
}
