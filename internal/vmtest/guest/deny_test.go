//go:build vmguest

package guest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
)

// TestDenyList: a denied module goes into the real kernel by no path the
// Loader takes (by name, alias, dependency, softdep, insmod of its file
// under another name, compressed or not), and the tools honour
// GOKMOD_DENY.
func TestDenyList(t *testing.T) {
	freshKernel(t)
	ctx := context.Background()
	conf := filepath.Join(t.TempDir(), "deny.conf")
	if err := os.WriteFile(conf, []byte("softdep ip_vs_rr pre: dummy\nalias denied-alias dummy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	open := func(deny ...string) *modprobe.Loader {
		l, err := modprobe.Open(modprobe.Options{Compat: compat(t), ConfigPaths: []string{conf}, Deny: deny})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	wantDenied := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, modprobe.ErrDenied) || !errors.Is(err, syscall.EPERM) {
			t.Errorf("%s: %v, want ErrDenied and EPERM", what, err)
		}
		if got := liveModules(t); len(got) > 0 {
			t.Errorf("%s: live %v, want nothing", what, got)
		}
		unloadAll(t)
	}

	l := open("libcrc32c")
	wantDenied("a dependency", l.Load(ctx, "ip_vs_wrr"))
	l = open("dummy")
	wantDenied("by name", l.Load(ctx, "dummy"))
	wantDenied("by alias", l.Load(ctx, "denied-alias"))
	wantDenied("insmod", l.InsertFile(ctx, modulePath(t, "dummy"), "", modprobe.LoadOptions{}))
	renamed := filepath.Join(t.TempDir(), "innocent"+strings.TrimPrefix(filepath.Base(modulePath(t, "dummy")), "dummy"))
	data, err := os.ReadFile(modulePath(t, "dummy"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(renamed, data, 0o644); err != nil {
		t.Fatal(err)
	}
	wantDenied("insmod of "+filepath.Base(renamed), l.InsertFile(ctx, renamed, "", modprobe.LoadOptions{}))

	// A denied softdep is left out; the rest loads.
	if err := l.Load(ctx, "ip_vs_rr"); err != nil {
		t.Fatal(err)
	}
	if live(t, "dummy") || !live(t, "ip_vs_rr") {
		t.Errorf("softdep: live %v, want ip_vs_rr without dummy", liveModules(t))
	}
	unloadAll(t)

	// The binary, told by the environment.
	for _, args := range [][]string{{"modprobe", "ip_vs_wrr"}, {"modprobe", "-a", "dummy", "libcrc32c"}, {"insmod", modulePath(t, "libcrc32c")}} {
		cmd := exec.Command("/bin/gokmod", args...)
		cmd.Env = toolEnv(t, "GOKMOD_DENY=libcrc32c")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "Operation not permitted") {
			t.Errorf("gokmod %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if got := liveModules(t); slices.Contains(got, "libcrc32c") {
			t.Errorf("gokmod %s: libcrc32c is live", strings.Join(args, " "))
		}
		unloadAll(t)
	}
}

// TestDenyFileKernelRequests: the host's deny list file stops the
// kernel's own module requests, which run /proc/sys/kernel/modprobe with
// the kernel's environment (no GOKMOD_DENY): with minix in
// /etc/gokmod/deny.conf, a mount of a minix filesystem, which makes the
// kernel ask for fs-minix, finds no such filesystem and minix stays out;
// without the file, the same mount brings minix in (and then fails, there
// being no device).
func TestDenyFileKernelRequests(t *testing.T) {
	freshKernel(t)
	modulePath(t, "minix") // in the image: a refusal below is the deny list's
	link := filepath.Join(t.TempDir(), "modprobe")
	if err := os.Symlink("/bin/gokmod", link); err != nil {
		t.Fatal(err)
	}
	const helper = "/proc/sys/kernel/modprobe"
	old := readFile(t, helper)
	if err := os.WriteFile(helper, []byte(link), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.WriteFile(helper, []byte(old), 0o644) })
	if err := os.MkdirAll(filepath.Dir(modprobe.DenyFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(modprobe.DenyFile, []byte("# no old filesystems on this host\nminix\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(modprobe.DenyFile) })

	target := t.TempDir()
	mountMinix := func() error {
		return syscall.Mount("/dev/gokmod-no-such-device", target, "minix", syscall.MS_RDONLY, "")
	}
	if err := mountMinix(); !errors.Is(err, syscall.ENODEV) || live(t, "minix") {
		t.Errorf("with minix denied: mount error %v, live %v; want ENODEV (no such filesystem) and no minix", err, liveModules(t))
	}
	if err := os.Remove(modprobe.DenyFile); err != nil {
		t.Fatal(err)
	}
	if err := mountMinix(); errors.Is(err, syscall.ENODEV) || !live(t, "minix") {
		t.Errorf("without the file: mount error %v, live %v; want minix loaded by the kernel's request", err, liveModules(t))
	}
}
