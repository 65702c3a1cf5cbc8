//go:build vmguest

package guest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe/internal/vmtest"
)

// The scenarios of compressed trees, forced and failing loads, signed
// modules, configuration and module paths, on both distributions. The
// tests of this file run before gokmod_test.go's, which load unsigned
// modules: TestSignedModulesUntainted comes first.

// altRoot is the root of the second tree TestGuest builds: the macvtap
// stack (macvtap, macvlan, tap) and dummy in a format the kernel does not
// decompress (.ko.xz on Debian 12, .ko.zst on Debian 13), for modprobe -d.
const altRoot = vmtest.TestdataDir + "/alt"

// altPath returns the absolute path of module name in the second tree.
func altPath(t testing.TB, name string) string {
	t.Helper()
	dir := altRoot + moduleDir(t)
	for line := range strings.Lines(readFile(t, dir+"/modules.dep")) {
		if p, _, ok := strings.Cut(line, ":"); ok && baseName(p) == name {
			return dir + "/" + p
		}
	}
	t.Fatalf("module %s is not in %s/modules.dep", name, dir)
	return ""
}

// tainted returns the kernel's taint flags.
func tainted(t testing.TB) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimSpace(readFile(t, "/proc/sys/kernel/tainted")), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// taintUnsignedModule is TAINT_UNSIGNED_MODULE ('E').
const taintUnsignedModule = 1 << 13

// TestSignedModulesUntainted loads signed modules of the distribution
// with kmod's modprobe and with gokmod's: bonding (with tls) and dummy of
// the tree (on Debian 13 .ko.xz, which the kernel decompresses) and the
// recompressed macvtap stack of the second tree (decompressed in user
// space). The kernel must have verified every one: its taint flags do not
// change, no module has a taint of its own (/sys/module/M/taint), and it
// logs no "module verification failed".
func TestSignedModulesUntainted(t *testing.T) {
	freshKernel(t)
	if tainted(t)&taintUnsignedModule != 0 {
		t.Log("an unsigned module was loaded before: the kernel would not log its once-only verification notice again; the taint flags still tell")
	}
	for _, bin := range []string{"/sbin/modprobe", "/gokmod/modprobe"} {
		for _, args := range [][]string{{"-a", "bonding", "dummy"}, {"-d", altRoot, "macvtap"}} {
			unloadAll(t)
			before := tainted(t)
			log := openKmsg(t)
			run(t, bin, args...)
			lines := log.lines(t)
			log.Close()
			line := bin + " " + strings.Join(args, " ")
			if after := tainted(t); after != before {
				t.Errorf("%s: the kernel's taint flags went from %d to %d", line, before, after)
			}
			mods := liveModules(t)
			if len(mods) != 3 {
				t.Errorf("%s: loaded %v, want 3 modules", line, mods)
			}
			for _, m := range mods {
				if taint := strings.TrimSpace(readFile(t, "/sys/module/"+m+"/taint")); taint != "" {
					t.Errorf("%s: module %s is tainted %q", line, m, taint)
				}
			}
			if n := countLines(lines, "module verification failed"); n != 0 {
				t.Errorf("%s: the kernel logged:\n%s", line, strings.Join(lines, "\n"))
			}
		}
	}
}

// TestModuleInitFailsOnce loads bonding with a mode its init rejects with
// EINVAL through kmod's modprobe and insmod, gokmod's, and gokmod's
// library. Each time the init must run once: the kernel logs bonding's
// `Error: Invalid bonding mode "bogus"` once; and gokmod's tools must
// print what kmod prints. On Debian 13 the kernel decompresses
// bonding.ko.xz itself; a loader that took the module's EINVAL for "the
// kernel cannot decompress this" and inserted the module again through
// init_module would run its init twice.
func TestModuleInitFailsOnce(t *testing.T) {
	freshKernel(t)
	const msg = "Invalid bonding mode"
	for _, s := range []step{
		tool("modprobe", "bonding", "mode=bogus"),
		tool("insmod", modulePath(t, "bonding"), "mode=bogus").after("modprobe tls"),
	} {
		kmod, ours := runStep(t, s, false), runStep(t, s, true)
		if !kmod.equal(ours) {
			t.Errorf("%s differs:\n=== kmod %d:\n%s\n=== gokmod:\n%s", s, kmodVersion(t), kmod, ours)
		}
		for _, o := range []struct {
			who string
			out outcome
		}{{"kmod", kmod}, {"gokmod", ours}} {
			if n := countLines(o.out.klog, msg); n != 1 || o.out.exit == 0 {
				t.Errorf("%s by %s: exit %d, the kernel logged %q %d times, want a failure and once:\n%s", s, o.who, o.out.exit, msg, n, strings.Join(o.out.klog, "\n"))
			}
		}
	}

	unloadAll(t)
	log := openKmsg(t)
	defer log.Close()
	err := loader(t).Load(context.Background(), "bonding", "mode=bogus")
	lines := log.lines(t)
	if !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Load(bonding mode=bogus) = %v, want EINVAL", err)
	}
	if n := countLines(lines, msg); n != 1 {
		t.Errorf("Load(bonding mode=bogus): the kernel logged %q %d times, want once:\n%s", msg, n, strings.Join(lines, "\n"))
	}
}

// TestCompressedMatchKmod compares kmod and gokmod on compressed modules:
// a stack of 26 modules of the tree (Sound Open Firmware); the second
// tree, in a format the kernel cannot decompress, so that both tools
// decompress in user space and call init_module; forced loads of the
// tree's signed modules (on Debian 13 .ko.xz, which the kernel
// decompresses: the force flags go with MODULE_INIT_COMPRESSED_FILE) and
// of the second tree's (the strip breaks their signature); and single
// files in every format.
func TestCompressedMatchKmod(t *testing.T) {
	vmtest.RequireGuest(t)
	td := vmtest.TestdataDir
	crc64 := tool("insmod", td+"/dummy-crc64.ko.xz")
	if kmodVersion(t) == 34 {
		// The kernel's xz decoder knows no CRC64 check: kmod 34 hands
		// the file to it and fails; gokmod reads the check type and
		// decompresses the file itself.
		crc64 = crc64.differs("gokmod decompresses an xz file with a CRC64 check itself; kmod 34 leaves it to the kernel, which refuses it")
	}
	outs := compareSteps(t, []step{
		tool("modprobe", "-v", "snd-sof-pci-intel-tgl"),
		tool("modprobe", "-d", altRoot, "-v", "macvtap"),
		tool("modprobe", "-d", altRoot, "-rv", "macvtap").after("modprobe -d " + altRoot + " macvtap"),
		tool("modprobe", "-d", altRoot, "dummy", "numdummies=3"),
		tool("insmod", altPath(t, "dummy")),
		tool("modprobe", "--force-modversion", "dummy"),
		tool("modprobe", "-f", "bonding"),
		tool("insmod", "-f", modulePath(t, "dummy")),
		tool("modprobe", "-d", altRoot, "--force-vermagic", "dummy"),
		tool("modprobe", "-d", altRoot, "-f", "macvtap"),
		tool("insmod", td+"/dummy.ko"),
		tool("insmod", td+"/dummy.ko.zst"),
		tool("insmod", td+"/dummy-vermagic.ko.xz"),
		tool("insmod", td+"/dummy-truncated.ko.xz").
			differs("gokmod names the decompression failure (\"decompressing FILE: xz: unexpected EOF\") where kmod prints strerror(EINVAL)"),
		crc64,
	})
	n := len(outs)
	if o := outs[n-2]; o.exit == 0 || len(o.modules) != 0 {
		t.Errorf("gokmod's insmod of a truncated xz file: exit %d, modules %v; want a failure", o.exit, o.modules)
	}
	// Whatever kmod does with it, gokmod loads an xz file with a CRC64
	// check.
	if o := outs[n-1]; o.exit != 0 || !slices.Contains(o.modules, "dummy") {
		t.Errorf("gokmod's insmod of dummy-crc64.ko.xz: exit %d, modules %v; want dummy loaded", o.exit, o.modules)
	}
}

// TestConfigMatchKmod compares kmod and gokmod on modprobe.d commands:
// install and remove commands, a softdep, options and blacklist, through
// -C. The commands run kmod's modprobe by its path: busybox's sh, the
// guest's, prefers its own modprobe applet to one on PATH.
func TestConfigMatchKmod(t *testing.T) {
	vmtest.RequireGuest(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "commands.conf")
	writeConf(t, conf, "install dummy echo installing dummy $CMDLINE_OPTS; /sbin/modprobe --ignore-install dummy $CMDLINE_OPTS\n"+
		"remove dummy echo removing dummy; /sbin/modprobe -r --ignore-remove dummy\n"+
		"install nlmon /bin/false\n"+
		"options dummy numdummies=3\n"+
		"softdep bonding pre: dummy post: nlmon\n")
	bl := filepath.Join(dir, "blacklist.conf")
	writeConf(t, bl, "blacklist dummy\nblacklist tls\nalias my-dummy dummy\n")
	compareSteps(t, []step{
		tool("modprobe", "-C", conf, "-v", "dummy", "numdummies=2"),
		tool("modprobe", "-C", conf, "-n", "-v", "dummy"),
		tool("modprobe", "-C", conf, "--ignore-install", "-v", "dummy"),
		tool("modprobe", "-C", conf, "-r", "-v", "dummy").after("modprobe dummy"),
		tool("modprobe", "-C", conf, "nlmon"),
		tool("modprobe", "-C", conf, "-v", "bonding"),
		tool("modprobe", "-C", conf, "-r", "-v", "bonding").after("modprobe bonding", "modprobe dummy"),
		tool("modprobe", "-C", bl, "-b", "dummy"),
		tool("modprobe", "-C", bl, "dummy"),
		tool("modprobe", "-C", bl, "my-dummy"),
		tool("modprobe", "-C", bl, "rtnl-link-dummy"),
		tool("modprobe", "-C", bl, "-b", "-v", "bonding"),
	})
}

// TestWeakdepMatchKmod compares kmod and gokmod on weak dependencies: a
// modprobe.d weakdep line and, on Debian 13, modules.weakdep, which kmod
// 34's depmod wrote for the image's nlmon (edited to declare a weak
// dependency on dummy). modprobe loads no weak dependency; kmod 30 knows
// no weakdep command and ignores the line with a message.
func TestWeakdepMatchKmod(t *testing.T) {
	vmtest.RequireGuest(t)
	if kmodVersion(t) == 34 && !strings.Contains(readFile(t, moduleDir(t)+"/modules.weakdep"), "weakdep nlmon dummy") {
		t.Errorf("modules.weakdep lacks nlmon's weak dependency:\n%s", readFile(t, moduleDir(t)+"/modules.weakdep"))
	}
	conf := filepath.Join(t.TempDir(), "weakdep.conf")
	writeConf(t, conf, "weakdep bonding dummy nlmon\n")
	outs := compareSteps(t, []step{
		tool("modprobe", "-C", conf, "-v", "bonding"),
		tool("modprobe", "-C", conf, "-D", "bonding"),
		tool("modprobe", "-C", conf, "-c"),
		tool("modprobe", "-v", "nlmon"),
		tool("modprobe", "-D", "nlmon"),
	})
	for _, i := range []int{0, 3} {
		if slices.Contains(outs[i].modules, "dummy") {
			t.Errorf("gokmod loaded the weak dependency dummy: %v", outs[i].modules)
		}
	}
	if kmodVersion(t) == 34 {
		for _, line := range []string{"weakdep bonding dummy nlmon\n", "weakdep nlmon dummy\n"} {
			if !strings.Contains(outs[2].stdout, line) {
				t.Errorf("gokmod's modprobe -c lacks %q", line)
			}
		}
	}
}

// TestModulePathsMatchKmod compares kmod and gokmod on module paths:
// kmod 34 loads the file an absolute or relative path names (compressed
// or not, with the dependencies modules.dep gives a path of the tree);
// kmod 30 takes the path for a module name.
func TestModulePathsMatchKmod(t *testing.T) {
	vmtest.RequireGuest(t)
	td := vmtest.TestdataDir
	compareSteps(t, []step{
		tool("modprobe", modulePath(t, "dummy")),
		tool("modprobe", "-v", modulePath(t, "bonding")),
		tool("modprobe", td+"/dummy.ko.xz", "numdummies=2"),
		tool("modprobe", "./dummy.ko").in(td),
		tool("modprobe", "-v", altPath(t, "dummy")),
		tool("modprobe", "-r", "-v", td+"/dummy.ko.xz").after("modprobe dummy"),
	})
}

// writeConf writes a modprobe.d file.
func writeConf(t *testing.T, name, text string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
