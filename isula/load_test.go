package isula

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/modprobetest"
)

const release = "6.1.0-isula"

// fakeHost returns a Loader on a fake kernel with ip_vs, ip_vs_wrr (needs
// ip_vs), dummy, broken (the kernel refuses it) and the builtin unix;
// modprobe.d sets dummy numdummies=2.
func fakeHost(t *testing.T) (*modprobe.Loader, *modprobetest.Kernel) {
	t.Helper()
	root := t.TempDir()
	dir, err := modprobetest.WriteTree(root, release,
		modprobetest.Module{Name: "ip_vs"},
		modprobetest.Module{Name: "ip_vs_wrr", Depends: []string{"ip_vs"}},
		modprobetest.Module{Name: "dummy", Params: []string{"numdummies:int"}},
		modprobetest.Module{Name: "broken"},
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte("kernel/net/unix/unix.ko\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(root, "modprobe.d")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "dummy.conf"), []byte("options dummy numdummies=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k := modprobetest.NewKernel(t)
	if err := k.SetRelease(release); err != nil {
		t.Fatal(err)
	}
	k.FailInsert("broken", syscall.ENOEXEC)
	return k.Open(t, modprobe.Options{RootDir: root, ConfigPaths: []string{conf}}), k
}

func mustEnv(t *testing.T, env ...string) []modprobe.Request {
	t.Helper()
	got, err := ParseEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	return got.Requests
}

func TestLoadTriesAll(t *testing.T) {
	for _, jobs := range []int{1, 2} {
		l, k := fakeHost(t)
		if err := k.Preload("ip_vs"); err != nil {
			t.Fatal(err)
		}
		reqs := mustEnv(t, "KERNEL_MODULES=broken,ip_vs_wrr,nosuch,unix,ip_vs,dummy")
		err := Load(context.Background(), l, reqs, modprobe.LoadOptions{Jobs: jobs})
		// Both failures are reported, and every other module loaded:
		// already loaded (ip_vs) and builtin (unix) are success.
		var failed []string
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var me *modprobe.ModuleError
			if !errors.As(e, &me) {
				t.Fatalf("jobs %d: %v is not a *ModuleError", jobs, e)
			}
			failed = append(failed, me.Module)
		}
		slices.Sort(failed)
		if !reflect.DeepEqual(failed, []string{"broken", "nosuch"}) || !errors.Is(err, syscall.ENOEXEC) || !errors.Is(err, modprobe.ErrNotFound) {
			t.Fatalf("jobs %d: error %v; want broken's ENOEXEC and nosuch not found", jobs, err)
		}
		got := k.Loaded()
		slices.Sort(got)
		if !reflect.DeepEqual(got, []string{"dummy", "ip_vs", "ip_vs_wrr"}) {
			t.Fatalf("jobs %d: loaded %q", jobs, got)
		}
		// -a passes no parameters, but modprobe.d's options apply.
		for _, in := range k.Inserts() {
			if in.Module == "dummy" && in.Params != "numdummies=2 " {
				t.Fatalf("jobs %d: dummy got %q", jobs, in.Params)
			}
		}
	}
}

func TestLoadNothing(t *testing.T) {
	l, k := fakeHost(t)
	if err := Load(context.Background(), l, mustEnv(t, "KERNEL_MODULES=,,"), modprobe.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(k.Inserts()) != 0 {
		t.Fatalf("inserts %v", k.Inserts())
	}
}

func TestLoadRefusesParams(t *testing.T) {
	l, k := fakeHost(t)
	err := Load(context.Background(), l, []modprobe.Request{{Name: "ip_vs"}, {Name: "dummy", Params: []string{"numdummies=9"}}}, modprobe.LoadOptions{})
	if !errors.Is(err, modprobe.ErrBadParams) {
		t.Fatalf("Load: %v", err)
	}
	if len(k.Inserts()) != 0 {
		t.Fatalf("inserts %v after a refused request", k.Inserts())
	}
}
