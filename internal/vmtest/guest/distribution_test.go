//go:build vmguest

package guest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/modprobe"
)

// The guest runs on one of two distributions, which TestGuest names in
// the environment: Debian 12 (kernel 6.1, plain .ko, kmod 30) with
// GOKMOD_COMPAT=kmod30, or Debian 13 (kernel 6.12, signed .ko.xz that the
// kernel decompresses, merged /usr, kmod 34.2) with GOKMOD_COMPAT=kmod34.
// Every test compares gokmod with that distribution's kmod.

// kmodVersion returns the kmod release of the guest's kmod, which gokmod
// follows: 30 or 34.
func kmodVersion(t testing.TB) int {
	t.Helper()
	switch c := os.Getenv("GOKMOD_COMPAT"); c {
	case "kmod30":
		return 30
	case "kmod34":
		return 34
	default:
		t.Fatalf("GOKMOD_COMPAT=%q; TestGuest sets kmod30 or kmod34", c)
		return 0
	}
}

// compat returns the Options.Compat that matches the guest's kmod.
func compat(t testing.TB) modprobe.Compat {
	if kmodVersion(t) == 30 {
		return modprobe.CompatKmod30
	}
	return modprobe.CompatLatest
}

// guestPath is the PATH of the tools the tests run.
const guestPath = "/usr/sbin:/usr/bin:/sbin:/bin"

// toolEnv returns the environment of a tool the tests run: PATH, the C
// locale and GOKMOD_COMPAT as TestGuest set it, then extra.
func toolEnv(t testing.TB, extra ...string) []string {
	t.Helper()
	kmodVersion(t)
	return append([]string{"PATH=" + guestPath, "LC_ALL=C", "GOKMOD_COMPAT=" + os.Getenv("GOKMOD_COMPAT")}, extra...)
}

// release returns the running kernel's release.
func release(t testing.TB) string {
	t.Helper()
	return strings.TrimSpace(readFile(t, "/proc/sys/kernel/osrelease"))
}

// moduleDir returns the running kernel's module directory as kmod names
// it, /lib/modules/RELEASE (below /usr/lib on Debian 13).
func moduleDir(t testing.TB) string {
	t.Helper()
	return "/lib/modules/" + release(t)
}

// modulePath returns the absolute path of module name as modules.dep
// lists it.
func modulePath(t testing.TB, name string) string {
	t.Helper()
	dir := moduleDir(t)
	want := strings.ReplaceAll(name, "-", "_")
	for line := range strings.Lines(readFile(t, dir+"/modules.dep")) {
		p, _, ok := strings.Cut(line, ":")
		if ok && strings.ReplaceAll(baseName(p), "-", "_") == want {
			return dir + "/" + p
		}
	}
	t.Fatalf("module %s is not in %s/modules.dep", name, dir)
	return ""
}

// baseName returns the module name of a module file path as its file
// name has it: "snd-sof-pci" for .../snd-sof-pci.ko.xz.
func baseName(p string) string {
	b := filepath.Base(p)
	if i := strings.Index(b, ".ko"); i >= 0 {
		return b[:i]
	}
	return b
}

// treeSuffix returns the suffix of the kernel tree's module files: ".ko"
// on Debian 12, ".ko.xz" on Debian 13.
func treeSuffix(t testing.TB) string {
	t.Helper()
	p := modulePath(t, "dummy")
	return p[strings.LastIndex(p, ".ko"):]
}
