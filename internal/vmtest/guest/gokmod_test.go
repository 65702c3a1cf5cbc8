//go:build vmguest

package guest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/kernel"
	"github.com/gokmod/modprobe/internal/vmtest"
)

// These tests load and remove real modules in Debian's kernel with
// gokmod's library and its binary (/bin/gokmod), and compare the binary
// with Debian's kmod (/sbin/modprobe, ...) on the same commands.

// loader opens a Loader on the running kernel, as a consumer would.
func loader(t *testing.T) *modprobe.Loader {
	t.Helper()
	l, err := modprobe.Open(modprobe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// liveModules returns the modules in /proc/modules, sorted.
func liveModules(t testing.TB) []string {
	t.Helper()
	var names []string
	for _, line := range strings.Split(readFile(t, "/proc/modules"), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	sort.Strings(names)
	return names
}

// unloadAll removes every module, holders first, so that each test starts
// from an empty kernel.
func unloadAll(t testing.TB) {
	t.Helper()
	for range 20 {
		mods := liveModules(t)
		if len(mods) == 0 {
			return
		}
		for _, m := range mods {
			_ = deleteModule(m)
		}
	}
	t.Fatalf("modules left: %v", liveModules(t))
}

// freshKernel starts a guest test from a kernel without modules and
// leaves it so.
func freshKernel(t *testing.T) {
	t.Helper()
	vmtest.RequireGuest(t)
	unloadAll(t)
	t.Cleanup(func() { unloadAll(t) })
}

// deleteModule removes a module with delete_module(2), O_NONBLOCK.
func deleteModule(name string) error { return kernel.DeleteModule(name, kernel.DeleteNonblock) }

func live(t *testing.T, name string) bool {
	t.Helper()
	b, err := os.ReadFile("/sys/module/" + name + "/initstate")
	return err == nil && string(b) == "live\n"
}

func TestLoadRemoveIPVSChain(t *testing.T) {
	freshKernel(t)
	l := loader(t)
	ctx := context.Background()
	if err := l.Load(ctx, "ip_vs_wrr"); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"ip_vs_wrr", "ip_vs", "nf_conntrack", "nf_defrag_ipv4", "nf_defrag_ipv6", "libcrc32c"} {
		if !live(t, m) {
			t.Errorf("%s not live after loading ip_vs_wrr", m)
		}
	}
	st, err := l.State("ip_vs")
	if err != nil || st.Refcnt < 1 || strings.Join(st.Holders, ",") != "ip_vs_wrr" {
		t.Errorf("State(ip_vs) = %+v, %v", st, err)
	}
	afterLoad := liveModules(t)
	if err := l.Remove(ctx, "ip_vs_wrr"); err != nil {
		t.Fatal(err)
	}
	ours := liveModules(t)

	// kmod's modprobe on the same kernel, from the same state
	unloadAll(t)
	run(t, "/sbin/modprobe", "ip_vs_wrr")
	if got := liveModules(t); strings.Join(got, ",") != strings.Join(afterLoad, ",") {
		t.Errorf("after loading: kmod %v, gokmod %v", got, afterLoad)
	}
	run(t, "/sbin/modprobe", "-r", "ip_vs_wrr")
	if got := liveModules(t); strings.Join(got, ",") != strings.Join(ours, ",") {
		t.Errorf("after removing: kmod left %v, gokmod %v", got, ours)
	}
}

func TestDummyNumdummies(t *testing.T) {
	freshKernel(t)
	if err := loader(t).Load(context.Background(), "dummy", "numdummies=3"); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		dev := fmt.Sprintf("/sys/class/net/dummy%d", i)
		if exists(t, dev) != (i < 3) {
			t.Errorf("%s exists: %v, want %v", dev, !(i < 3), i < 3)
		}
	}
}

func TestParameterReadBack(t *testing.T) {
	freshKernel(t)
	if err := loader(t).Load(context.Background(), "ip_vs", "conn_tab_bits=11"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, "/sys/module/ip_vs/parameters/conn_tab_bits"); got != "11\n" {
		t.Errorf("conn_tab_bits = %q, want 11", got)
	}
}

func TestCompressedModules(t *testing.T) {
	freshKernel(t)
	l := loader(t)
	ctx := context.Background()
	for _, f := range []string{"dummy.ko.xz", "dummy-crc64.ko.xz", "dummy.ko.zst", "dummy.ko.gz"} {
		err := l.InsertFile(ctx, filepath.Join(vmtest.TestdataDir, f), "numdummies=1", modprobe.LoadOptions{})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !live(t, "dummy") || !exists(t, "/sys/class/net/dummy0") {
			t.Errorf("%s: dummy not live", f)
		}
		if err := l.RemoveModule(ctx, "dummy", modprobe.RemoveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	err := l.InsertFile(ctx, filepath.Join(vmtest.TestdataDir, "dummy-truncated.ko.xz"), "", modprobe.LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "decompressing") {
		t.Errorf("truncated xz: %v", err)
	}
}

func TestFirstTimeAndInUse(t *testing.T) {
	freshKernel(t)
	l := loader(t)
	ctx := context.Background()
	if err := l.Load(ctx, "ip_vs_wrr"); err != nil {
		t.Fatal(err)
	}
	err := l.LoadWith(ctx, "ip_vs_wrr", nil, modprobe.LoadOptions{FirstTime: true})
	if !errors.Is(err, modprobe.ErrAlreadyLoaded) || !errors.Is(err, syscall.EEXIST) {
		t.Errorf("first-time load of a live module: %v", err)
	}
	err = l.Remove(ctx, "ip_vs")
	if !errors.Is(err, modprobe.ErrInUse) {
		t.Errorf("removing ip_vs under ip_vs_wrr: %v", err)
	}
	if !live(t, "ip_vs") {
		t.Error("ip_vs went away")
	}
	// ip_vs_wrr's dependency pass removes ip_vs, which is then deleted
	// again: the kernel's ENOENT fails the removal, as in kmod 34.2.
	if err := l.RemoveWith(ctx, []string{"ip_vs"}, modprobe.RemoveOptions{RemoveHolders: true}); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("--remove-holders: %v, want ENOENT for deleting ip_vs again", err)
	}
	if live(t, "ip_vs") || live(t, "ip_vs_wrr") {
		t.Error("ip_vs or ip_vs_wrr still live after removing ip_vs with its holders")
	}
	err = l.RemoveWith(ctx, []string{"ip_vs"}, modprobe.RemoveOptions{FirstTime: true})
	if !errors.Is(err, modprobe.ErrNotLoaded) {
		t.Errorf("first-time removal of an absent module: %v", err)
	}
}

func TestCorruptAndVermagic(t *testing.T) {
	freshKernel(t)
	l := loader(t)
	ctx := context.Background()
	err := l.InsertFile(ctx, filepath.Join(vmtest.TestdataDir, "dummy-corrupt.ko"), "", modprobe.LoadOptions{})
	if !errors.Is(err, syscall.ENOEXEC) {
		t.Errorf("corrupt module: %v, want ENOEXEC", err)
	}
	for _, f := range []string{"dummy-vermagic.ko", "dummy-vermagic.ko.xz"} {
		path := filepath.Join(vmtest.TestdataDir, f)
		err := l.InsertFile(ctx, path, "", modprobe.LoadOptions{})
		var me *modprobe.ModuleError
		if !errors.Is(err, syscall.ENOEXEC) || !errors.As(err, &me) {
			t.Errorf("%s: %v, want ENOEXEC", f, err)
		} else if !strings.Contains(strings.Join(me.KernelLog, "\n"), "version magic") {
			t.Errorf("%s: the error does not carry the kernel's reason: %q", f, me.KernelLog)
		}
		if err := l.InsertFile(ctx, path, "", modprobe.LoadOptions{ForceVermagic: true}); err != nil {
			t.Errorf("%s with --force-vermagic: %v", f, err)
		} else if !live(t, "dummy") {
			t.Errorf("%s with --force-vermagic: dummy not live", f)
		}
		unloadAll(t)
	}
	// an unknown symbol: ip_vs_wrr's file without ip_vs
	mods, err := l.Lookup(ctx, "ip_vs_wrr")
	if err != nil {
		t.Fatal(err)
	}
	err = l.InsertFile(ctx, mods[0].Path, "", modprobe.LoadOptions{})
	var me *modprobe.ModuleError
	if !errors.Is(err, syscall.ENOENT) || !errors.As(err, &me) || !strings.Contains(strings.Join(me.KernelLog, "\n"), "Unknown symbol") {
		t.Errorf("unknown symbol: %v", err)
	}
}

func TestConcurrentLoads(t *testing.T) {
	freshKernel(t)
	l := loader(t)
	sets := [][]string{
		{"ip_vs_rr", "ip_vs_wrr", "dummy"},
		{"ip_vs_wrr", "ip_vs_lc", "ip_vs_sh"},
		{"ip_vs_lc", "ip_vs_wlc", "ip_vs"},
		{"ip_vs_sh", "ip_vs_dh", "ip_vs_rr"},
		{"ip_vs_dh", "ip_vs_sed", "dummy"},
		{"ip_vs_sed", "ip_vs_nq", "ip_vs_wlc"},
		{"ip_vs_nq", "ip_vs_rr", "ip_vs_wrr"},
		{"ip_vs", "ip_vs_sh", "ip_vs_nq"},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(sets))
	for i, set := range sets {
		wg.Go(func() {
			opts := modprobe.LoadOptions{}
			if i%2 == 1 {
				opts.Jobs = 2
			}
			errs[i] = l.LoadAllWith(context.Background(), set, opts)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("set %d: %v", i, err)
		}
	}
	for _, set := range sets {
		for _, m := range set {
			if !live(t, m) {
				t.Errorf("%s not live", m)
			}
		}
	}
	st, err := l.State("ip_vs")
	if err != nil || len(st.Holders) != 8 {
		t.Errorf("ip_vs: %+v, %v: want 8 schedulers holding it", st, err)
	}
}

// TestToolsMatchKmod runs the same command lines through kmod's tools and
// gokmod's, each from the same kernel state, and compares their output,
// exit status and the kernel's state afterwards.
func TestToolsMatchKmod(t *testing.T) {
	vmtest.RequireGuest(t)
	t.Cleanup(func() { unloadAll(t) })
	type step struct {
		setup []string // kmod commands run first, not compared
		tool  string
		args  []string
	}
	steps := []step{
		{nil, "modprobe", []string{"-v", "ip_vs_wrr"}},
		{nil, "modprobe", []string{"dummy", "numdummies=2"}},
		{[]string{"modprobe dummy"}, "modprobe", []string{"--first-time", "dummy"}},
		{[]string{"modprobe dummy"}, "modprobe", []string{"-v", "dummy"}},
		{nil, "modprobe", []string{"-r", "--first-time", "dummy"}},
		{nil, "modprobe", []string{"-r", "dummy"}},
		{[]string{"modprobe ip_vs_wrr"}, "modprobe", []string{"-r", "ip_vs"}},
		{[]string{"modprobe ip_vs_wrr"}, "modprobe", []string{"-rv", "ip_vs_wrr"}},
		{[]string{"modprobe ip_vs_wrr"}, "modprobe", []string{"-rv", "--remove-holders", "ip_vs"}},
		{[]string{"modprobe ip_vs_wrr"}, "modprobe", []string{"-r", "-a", "ip_vs", "ip_vs_wrr"}},
		{nil, "modprobe", []string{"-a", "dummy", "nosuch", "ip_vs_rr"}},
		{nil, "modprobe", []string{"nosuch"}},
		{nil, "modprobe", []string{"-r", "nosuch"}},
		{nil, "modprobe", []string{"-r", "unix"}},
		{nil, "modprobe", []string{"--first-time", "unix"}},
		{[]string{"modprobe ip_vs_wrr"}, "rmmod", []string{"ip_vs"}},
		{[]string{"modprobe ip_vs_wrr"}, "rmmod", []string{"ip_vs_wrr", "ip_vs"}},
		{nil, "rmmod", []string{"dummy"}},
		{nil, "rmmod", []string{"unix"}},
		{nil, "insmod", []string{vmtest.TestdataDir + "/dummy-corrupt.ko"}},
		{nil, "insmod", []string{vmtest.TestdataDir + "/dummy-vermagic.ko"}},
		{nil, "insmod", []string{"-f", vmtest.TestdataDir + "/dummy-vermagic.ko"}},
		{nil, "insmod", []string{vmtest.TestdataDir + "/dummy.ko.xz", "numdummies=1"}},
		{nil, "insmod", []string{vmtest.TestdataDir + "/nosuch.ko"}},
		{nil, "modprobe", []string{"--force-vermagic", "dummy"}},
		{[]string{"modprobe ip_vs_wrr", "modprobe dummy"}, "lsmod", nil},
	}
	compat := guestCompat(t)
	same := 0
	for _, s := range steps {
		line := s.tool + " " + strings.Join(s.args, " ")
		var outs [2]string
		var states [2][]string
		for i, bin := range []string{"/sbin/" + s.tool, "/gokmod/" + s.tool} {
			unloadAll(t)
			for _, c := range s.setup {
				f := strings.Fields(c)
				run(t, "/sbin/"+f[0], f[1:]...)
			}
			cmd := exec.Command(bin, s.args...)
			cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
			if i == 1 {
				cmd.Env = append(cmd.Env, compat)
			}
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("%s: %v", bin, err)
			}
			outs[i] = fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", code, stdout.String(), stderr.String())
			states[i] = liveModules(t)
		}
		if outs[0] != outs[1] || strings.Join(states[0], ",") != strings.Join(states[1], ",") {
			t.Errorf("%s differs:\nkmod:   %s\n        modules %v\ngokmod: %s\n        modules %v", line, outs[0], states[0], outs[1], states[1])
			continue
		}
		same++
	}
	t.Logf("tools: %d/%d command lines identical to kmod's (output, exit status, modules left)", same, len(steps))
}
