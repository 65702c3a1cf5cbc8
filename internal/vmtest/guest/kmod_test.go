//go:build vmguest

package guest

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/vmtest"
)

// TestKmodDummy proves the harness with Debian's kmod: it loads dummy
// with a parameter and removes it again.
func TestKmodDummy(t *testing.T) {
	vmtest.RequireGuest(t)
	unloadAtCleanup(t, "dummy")
	run(t, "/sbin/modprobe", "dummy", "numdummies=3")
	if got := readFile(t, "/sys/module/dummy/initstate"); got != "live\n" {
		t.Errorf("initstate = %q, want \"live\\n\"", got)
	}
	// dummy declares numdummies with permissions 0, so sysfs does not
	// show it; the devices it created tell the value.
	for _, dev := range []string{"dummy0", "dummy1", "dummy2"} {
		if !exists(t, "/sys/class/net/"+dev) {
			t.Errorf("/sys/class/net/%s is missing after loading dummy numdummies=3", dev)
		}
	}
	if exists(t, "/sys/class/net/dummy3") {
		t.Error("/sys/class/net/dummy3 exists after loading dummy numdummies=3")
	}
	run(t, "/sbin/modprobe", "-r", "dummy")
	if exists(t, "/sys/module/dummy") {
		t.Error("/sys/module/dummy still exists after modprobe -r dummy")
	}
	if exists(t, "/sys/class/net/dummy0") {
		t.Error("/sys/class/net/dummy0 still exists after modprobe -r dummy")
	}
}

// TestKmodIsTheDistributions checks that the guest runs the kmod that
// TestGuest meant it to (kmod 30 on Debian 12, 34.2 with its own
// libraries on Debian 13, which would not run with Debian 12's glibc) and
// the distribution's layout: on Debian 13 /lib links to usr/lib and the
// modules live under /usr/lib/modules.
func TestKmodIsTheDistributions(t *testing.T) {
	vmtest.RequireGuest(t)
	want := fmt.Sprintf("kmod version %d", kmodVersion(t))
	if out := run(t, "/sbin/modprobe", "-V"); !strings.HasPrefix(out, want) {
		t.Errorf("modprobe -V printed %q, want %q", out, want)
	}
	if kmodVersion(t) == 30 {
		return
	}
	if target, err := os.Readlink("/lib"); err != nil || target != "usr/lib" {
		t.Errorf("/lib links to %q (%v), want usr/lib", target, err)
	}
	if p := "/usr" + modulePath(t, "dummy"); !exists(t, p) || !strings.HasSuffix(p, ".ko.xz") {
		t.Errorf("%s is missing or not .ko.xz", p)
	}
}
