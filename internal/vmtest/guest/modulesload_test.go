//go:build vmguest

package guest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// systemdModulesLoad is Debian's systemd-modules-load (the host's, with
// its libraries; TestGuest carries it in).
const systemdModulesLoad = "/usr/lib/systemd/systemd-modules-load"

// TestModulesLoadMatchSystemd runs systemd-modules-load and gokmod
// modules-load on the same configuration trees and kernel command lines,
// from an empty kernel each, and compares the modules loaded and the exit
// status.
func TestModulesLoadMatchSystemd(t *testing.T) {
	freshKernel(t)
	if _, err := os.Stat(systemdModulesLoad); err != nil {
		t.Fatalf("%s: %v", systemdModulesLoad, err)
	}
	dirs := []string{"/etc/modules-load.d", "/run/modules-load.d", "/usr/local/lib/modules-load.d", "/usr/lib/modules-load.d", "/lib/modules-load.d", "/etc/modprobe.d"}
	cmdline := filepath.Join(t.TempDir(), "cmdline")
	for _, tc := range []struct {
		name    string
		files   map[string]string // path -> content; "->/dev/null" makes a link
		cmdline string
		args    []string
	}{
		{name: "precedence", files: map[string]string{
			"/etc/modules-load.d/a.conf":     "dummy\n",
			"/usr/lib/modules-load.d/a.conf": "ip_vs_rr\n",
			"/usr/lib/modules-load.d/b.conf": "# a comment\n; another\n\n   nlmon   \n",
			"/run/modules-load.d/c.conf":     "ip_vs_wrr\n",
		}},
		{name: "masked", files: map[string]string{
			"/etc/modules-load.d/a.conf":           "->/dev/null",
			"/usr/lib/modules-load.d/a.conf":       "dummy\n",
			"/usr/local/lib/modules-load.d/z.conf": "macvtap\n",
		}},
		{name: "command line", cmdline: `quiet modules_load=dummy,nlmon rd.modules_load=ip_vs_rr "modules-load=macvtap"`},
		{name: "missing module", files: map[string]string{"/etc/modules-load.d/a.conf": "no_such_module\ndummy\n"}},
		{name: "failing module", files: map[string]string{
			"/etc/modules-load.d/a.conf": "bonding\nnlmon\n",
			"/etc/modprobe.d/b.conf":     "options bonding mode=bogus\n",
		}},
		{name: "blacklisted by name", files: map[string]string{
			"/etc/modules-load.d/a.conf": "dummy\nnlmon\n",
			"/etc/modprobe.d/b.conf":     "blacklist dummy\n",
		}},
		{name: "alias", files: map[string]string{"/etc/modules-load.d/a.conf": "rtnl-link-dummy\nfs-nls_utf8\n"}},
		{name: "arguments", files: map[string]string{
			"/etc/modules-load.d/x.conf":     "dummy\n",
			"/usr/lib/modules-load.d/y.conf": "nlmon\n",
			"/usr/lib/modules-load.d/z.conf": "macvtap\n",
		}, args: []string{"x.conf", "/usr/lib/modules-load.d/y.conf"}},
		{name: "missing argument", args: []string{"nothere.conf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, d := range dirs {
				os.RemoveAll(d)
			}
			for p, content := range tc.files {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if target, ok := strings.CutPrefix(content, "->"); ok {
					if err := os.Symlink(target, p); err != nil {
						t.Fatal(err)
					}
				} else if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			line := tc.cmdline
			if line == "" {
				line = "quiet"
			}
			if err := os.WriteFile(cmdline, []byte(line+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mount(cmdline, "/proc/cmdline", "", syscall.MS_BIND, ""); err != nil {
				t.Fatal(err)
			}
			defer syscall.Unmount("/proc/cmdline", 0)
			type outcome struct {
				code int
				live []string
				out  string
			}
			runOne := func(argv ...string) outcome {
				unloadAll(t)
				cmd := exec.Command(argv[0], append(argv[1:], tc.args...)...)
				cmd.Env = toolEnv(t, "SYSTEMD_LOG_TARGET=console")
				out, err := cmd.CombinedOutput()
				code := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					code = ee.ExitCode()
				} else if err != nil {
					t.Fatalf("%v: %v", argv, err)
				}
				return outcome{code, liveModules(t), string(out)}
			}
			want := runOne(systemdModulesLoad)
			got := runOne("/bin/gokmod", "modules-load")
			if want.code != got.code || strings.Join(want.live, ",") != strings.Join(got.live, ",") {
				t.Errorf("systemd-modules-load: exit %d, live %v\n%s\ngokmod modules-load: exit %d, live %v\n%s",
					want.code, want.live, want.out, got.code, got.live, got.out)
			}
			t.Logf("exit %d, %d modules live: %v", got.code, len(got.live), got.live)
			unloadAll(t)
		})
	}
	for _, d := range dirs {
		os.RemoveAll(d)
	}
}
