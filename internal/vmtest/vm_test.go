package vmtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokmod/modprobe/internal/registrytest"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/internal/vmtest"
	"github.com/gokmod/modprobe/kmodimage"
	"github.com/gokmod/modprobe/sign"
)

// TestGuest builds the guest tests (package internal/vmtest/guest) and
// gokmod, and boots them on each distribution's kernel under qemu, both
// VMs at once: Debian 12 (kernel 6.1, plain .ko modules, the host's kmod
// 30, gokmod with GOKMOD_COMPAT=kmod30) and Debian 13 (kernel 6.12, signed
// .ko.xz modules the kernel decompresses, in a merged-/usr layout, Debian
// 13's kmod 34.2 with its own loader and libraries, GOKMOD_COMPAT=kmod34).
// A subtest fails unless every guest test passes; the console streams into
// its log. The environment variable GOKMOD_VM_RUN selects guest tests as
// -run does; GOKMOD_VM_BENCH runs benchmarks, one VM after the other.
func TestGuest(t *testing.T) {
	vmtest.RequireVM(t)
	trackModuleSources(t)

	// Each VM runs for five to seven minutes on a 2-core machine other
	// emulators share (Debian 13's kernel waits a second whenever
	// nf_defrag_ipv6 goes away, which most resets of the ip_vs chain do;
	// the coldplug tests load every boot device's driver five times);
	// both run at once. A bound on a hang, not a timing.
	timeout := 10 * time.Minute
	if os.Getenv("GOKMOD_VM_BENCH") != "" || os.Getenv("GOKMOD_PREFLIGHT_ALL") != "" {
		timeout = 20 * time.Minute
	}
	if d, ok := t.Deadline(); ok && time.Until(d)-30*time.Second < timeout {
		timeout = time.Until(d) - 30*time.Second
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	// The subtests run after this function returns.
	t.Cleanup(cancel)

	dir := t.TempDir()
	bins := guestBinaries{
		test: filepath.Join(dir, "guest.test"), gokmod: filepath.Join(dir, "gokmod"), worker: filepath.Join(dir, "worker"),
		libmodprobe: filepath.Join(dir, "libmodprobe"), consumer: filepath.Join(dir, "consumer.test"),
	}
	start := time.Now()
	var wg sync.WaitGroup
	var guestErr, gokmodErr, libErr, consumerErr error
	wg.Go(func() { guestErr = vmtest.BuildTest(ctx, vmtest.GuestPackage, bins.test) })
	// The consumer programs are built as their users build them, with
	// the oldest Go gokmod supports (make unit names it) and -race.
	wg.Go(func() { consumerErr = vmtest.BuildConsumerTest(ctx, bins.consumer, os.Getenv("GOKMOD_GO_OLDEST")) })
	wg.Go(func() {
		gokmodErr = vmtest.BuildTools(ctx, dir)
		libErr = vmtest.BuildLibmodprobe(ctx, bins.libmodprobe)
	})
	wg.Wait()
	if err := errors.Join(guestErr, gokmodErr, libErr, consumerErr); err != nil {
		t.Fatalf("building the guest binaries: %v", err)
	}
	t.Logf("built the guest binaries in %v", time.Since(start).Round(time.Millisecond))

	for _, d := range []struct {
		name string
		find func(*testing.T) distribution
	}{{"debian12", debian12}, {"debian13", debian13}} {
		t.Run(d.name, func(t *testing.T) {
			// Benchmarks time one VM at a time.
			if os.Getenv("GOKMOD_VM_BENCH") == "" {
				t.Parallel()
			}
			bootGuest(t, ctx, d.find(t), bins, timeout)
		})
	}
}

// guestBinaries are the host paths of the guest test binary, gokmod, the
// worker (which gokmod kmm hands over to), libmodprobe (the library's
// path in the benchmarks) and the consumer programs' test binary
// (internal/consumer, linked against the host's C library for -race).
type guestBinaries struct{ test, gokmod, worker, libmodprobe, consumer string }

// distribution is a kernel tree and the kmod the guest suite compares
// gokmod with on it.
type distribution struct {
	name          string
	root, release string
	compat        string // GOKMOD_COMPAT in the guest
	kmodRoot      string // Image.KmodRoot: "" for the host's kmod
	depmod        string // Image.Depmod: "" for the host's depmod
	mergedUsr     bool
	// foreignSuffix is a module format the kernel does not decompress:
	// the guest's /testdata/alt tree holds a stack in it.
	foreignSuffix string
}

// debian12 is Debian 12's kernel 6.1 (plain .ko, no in-kernel
// decompression) with the host's kmod 30.
func debian12(t *testing.T) distribution {
	root, release := testmod.DebianTree(t)
	return distribution{name: "debian12", root: root, release: release, compat: "kmod30", foreignSuffix: ".ko.xz"}
}

// debian13 is Debian 13's kernel 6.12 (signed .ko.xz, in-kernel xz only)
// with its kmod 34.2, which the image carries with its loader and
// libraries.
func debian13(t *testing.T) distribution {
	root, release := testmod.Debian13Tree(t)
	return distribution{
		name: "debian13", root: root, release: release, compat: "kmod34",
		kmodRoot: kmod34Root(t), depmod: testmod.Kmod34Tool(t, "depmod"),
		mergedUsr: true, foreignSuffix: ".ko.zst",
	}
}

// kmod34Root returns the root of Debian 13's kmod that scripts/setup.sh
// unpacked.
func kmod34Root(t *testing.T) string {
	root, err := vmtest.WrapperRoot(testmod.Kmod34Tool(t, "kmod"))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// bootGuest builds the image for distribution d, boots it and fails the
// test unless every guest test passes.
func bootGuest(t *testing.T, ctx context.Context, d distribution, bins guestBinaries, timeout time.Duration) {
	start := time.Now()
	kernel, err := vmtest.BootKernel(ctx, vmtest.KernelPath(d.root, d.release), t.TempDir())
	if err != nil {
		t.Logf("%v (slower boot)", err)
	}
	nls, err := vmtest.NLSModules(d.root, d.release)
	if err != nil || len(nls) < 20 {
		t.Fatalf("%d NLS modules in %s (%v): the benchmarks need at least 20", len(nls), d.root, err)
	}
	img := vmtest.Image{
		Root:      d.root,
		Release:   d.release,
		MergedUsr: d.mergedUsr,
		KmodRoot:  d.kmodRoot,
		Depmod:    d.depmod,
		Modules:   append(append(vmtest.Modules(), nls...), append(vmtest.ColdplugDrivers(d.root, d.release), vmtest.HotplugDrivers()...)...),
		Init:      vmtest.HostFile(bins.test),
		Files:     guestFiles(t, ctx, d, bins),
		Args:      guestArgs(timeout - 15*time.Second),
		Env:       guestEnv(d),
	}
	initrd := filepath.Join(t.TempDir(), "initrd.cpio")
	if err := img.Build(ctx, initrd); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(initrd)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s %s: built the kernel and the %.1f MB image in %v", d.name, d.release, float64(fi.Size())/1e6, time.Since(start).Round(time.Millisecond))

	console := vmtest.NewLineWriter(func(line string) { t.Log(line) })
	disk := filepath.Join(t.TempDir(), "usb.img")
	if err := os.WriteFile(disk, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := vmtest.Run(ctx, vmtest.Machine{
		Kernel:   kernel,
		Initrd:   initrd,
		Console:  console,
		Devices:  vmtest.ColdplugDevices(disk),
		Hotplug:  vmtest.HotplugDevices(),
		MemoryMB: preflightMemory(d),
	})
	console.Flush()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: the VM ran for %v", d.name, res.Duration.Round(time.Millisecond))
	if res.Status != 0 {
		t.Fatalf("the guest tests failed with status %d; their output is logged above", res.Status)
	}
}

// guestFiles returns the extra files of the guest image: gokmod as
// /bin/gokmod, /bin/worker (gokmod kmm's) and /bin/libmodprobe, with links /gokmod/TOOL (modprobe, insmod, rmmod, lsmod) to
// run it as each tool; the variants of dummy (compressed, corrupt, other
// vermagic) below vmtest.TestdataDir; below TestdataDir/alt, a second
// tree holding the macvtap stack and dummy in the format the kernel
// cannot decompress; and, for kmod 34, nlmon declaring a weak dependency
// on dummy; the KMM worker's image, also signed in the registry by
// kmodimage.SignImage (kmmFiles, kmmSignedFiles); and ifb signed by
// gokmod and by sign-file, with corrupted copies (signFiles). Add test
// inputs here; files below /lib/modules/RELEASE are
// indexed by depmod with the modules.
func guestFiles(t *testing.T, ctx context.Context, d distribution, bins guestBinaries) map[string]vmtest.File {
	t.Helper()
	files := map[string]vmtest.File{
		"/bin/gokmod": vmtest.HostFile(bins.gokmod), "/bin/worker": vmtest.HostFile(bins.worker),
		"/bin/libmodprobe": vmtest.HostFile(bins.libmodprobe),
	}
	for _, tool := range []string{"modprobe", "insmod", "rmmod", "lsmod"} {
		files["/gokmod/"+tool] = vmtest.Symlink("/bin/gokmod")
	}
	// GOKMOD_VM_GOKMOD_B names another gokmod binary (a static linux/amd64
	// build of another commit), /bin/gokmod-b in the guest, which
	// BenchmarkColdplugTimeline runs alongside /bin/gokmod: an A/B in one
	// boot.
	if other := os.Getenv("GOKMOD_VM_GOKMOD_B"); other != "" {
		files["/bin/gokmod-b"] = vmtest.HostFile(other)
	}
	modPath := func(name string) string {
		rels, err := vmtest.ModuleClosure(d.root, d.release, []string{name})
		if err != nil || len(rels) != 1 {
			t.Fatalf("module %s: %v, %v", name, rels, err)
		}
		return rels[0]
	}
	modDir := testmod.ModuleDir(d.root, d.release)
	variants, err := vmtest.ModuleVariants(ctx, filepath.Join(modDir, modPath("dummy")), "dummy", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(files, variants)
	alt, err := vmtest.RecompressedTree(ctx, d.root, d.release, []string{"macvtap", "dummy"}, d.foreignSuffix, d.depmod, t.TempDir(), vmtest.TestdataDir+"/alt")
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(files, alt)
	if d.compat == "kmod34" {
		rel := modPath("nlmon")
		data, err := vmtest.WeakdepModule(ctx, filepath.Join(modDir, rel), "dummy")
		if err != nil {
			t.Fatal(err)
		}
		files["/lib/modules/"+d.release+"/"+rel] = vmtest.DataFile(data, 0o644)
	}
	maps.Copy(files, hostProgramFiles(t, d, bins.consumer, "/bin/consumer.test"))
	// Debian 12's systemd-modules-load (the host's), for
	// TestModulesLoadMatchSystemd; on Debian 13 it runs with that
	// system's libkmod and C library.
	maps.Copy(files, hostProgramFiles(t, d, "/usr/lib/systemd/systemd-modules-load", "/usr/lib/systemd/systemd-modules-load"))
	// Debian 12's systemd-udevd (the host's udevadm, Debian package udev)
	// with only the rules that load drivers, for TestColdplugMatchUdev.
	maps.Copy(files, hostProgramFiles(t, d, "/usr/bin/udevadm", "/usr/bin/udevadm"))
	files["/usr/lib/systemd/systemd-udevd"] = vmtest.Symlink("/usr/bin/udevadm")
	// Debian's rules that load modules: upstream's 80-drivers.rules and
	// Debian's own 80-debian-compat.rules (sg for every SCSI device),
	// the same lines in Debian 12's udev and Debian 13's.
	for _, f := range []string{"80-drivers.rules", "80-debian-compat.rules"} {
		files["/usr/lib/udev/rules.d/"+f] = vmtest.HostFile("/usr/lib/udev/rules.d/" + f)
	}
	files["/bin/udev-coldplug"] = vmtest.DataFile([]byte(udevColdplugScript), 0o755)
	maps.Copy(files, adapterFiles(t))
	maps.Copy(files, kmmFiles(t, ctx, d))
	maps.Copy(files, kmmSignedFiles(t, ctx, d))
	maps.Copy(files, signFiles(t, ctx, d))
	maps.Copy(files, preflightFiles(t, ctx, d))
	if os.Getenv("GOKMOD_VM_STRACE") != "" {
		path, err := exec.LookPath("strace")
		if err != nil {
			t.Fatalf("GOKMOD_VM_STRACE needs strace on the host (Debian package strace): %v", err)
		}
		maps.Copy(files, hostProgramFiles(t, d, path, "/usr/bin/strace"))
	}
	return files
}

// hostProgramFiles returns the host's dynamically linked program path as
// the guest's file guest, with the shared libraries it needs: strace for
// the guest's BenchmarkSyscalls (GOKMOD_VM_STRACE=1), the consumer
// programs' race-enabled test binary. A library the distribution's own
// kmod root holds (its C library and dynamic loader, newer than the
// host's; its libkmod) is taken from there instead.
func hostProgramFiles(t *testing.T, d distribution, path, guest string) map[string]vmtest.File {
	t.Helper()
	deps, err := vmtest.ELFDependencies("/", path)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]vmtest.File{}
	for lib, host := range deps {
		if d.kmodRoot != "" {
			if p, ok := rootFile(d.kmodRoot, lib); ok {
				files[lib] = vmtest.HostFile(p) // the distribution's own
				continue
			}
		}
		files[lib] = vmtest.HostFile(host)
	}
	files[guest] = vmtest.HostFile(path)
	return files
}

// rootFile returns the file of the system at root for the guest path p,
// below /usr too (a merged-/usr root keeps /lib's files there).
func rootFile(root, p string) (string, bool) {
	for _, dir := range []string{root, filepath.Join(root, "usr")} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			return filepath.Join(dir, p), true
		}
	}
	return "", false
}

// kmmFiles returns the inputs of the KMM worker test (guest kmm_test.go):
// a kmod image built from Debian's dummy, nls_utf8 and nls_cp437 with
// kmod's depmod indexes and a firmware file, pushed to a real registry
// (Debian's docker-registry), pulled and extracted with kmodimage, below
// TestdataDir/kmm/shared; and the worker's configurations.
func kmmFiles(t *testing.T, ctx context.Context, d distribution) map[string]vmtest.File {
	t.Helper()
	release := d.release
	tree, _ := kmmTree(t, ctx, d, false)
	reg := registrytest.Start(t)
	ref := reg.Push(t, "gokmod/kmm-dummy", tagOf(release), registrytest.ImageFromDir(t, tree))
	img, err := kmodimage.OpenImage(ctx, ref, kmodimage.PullOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	shared := t.TempDir()
	if err := kmodimage.Extract(ctx, img, shared, kmodimage.ExtractOptions{KernelVersion: release, FirmwarePath: "/firmware"}); err != nil {
		t.Fatal(err)
	}
	if err := kmodimage.CheckLayout(shared, "", release); err != nil {
		t.Fatal(err)
	}
	files, err := vmtest.DirFiles(shared, vmtest.TestdataDir+"/kmm/shared")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files[vmtest.TestdataDir+"/kmm/shared/etc/os-release"]; ok {
		t.Fatal("Extract wrote a file outside the module and firmware directories")
	}
	config := "kernelVersion: " + release + "\ncontainerImage: " + ref + "\ninsecurePull: true\n" +
		"inTreeModulesToRemove: [ip_vs_rr, nosuch_module]\n" +
		"modprobe:\n  moduleName: dummy\n  parameters: [numdummies=2]\n  firmwarePath: /firmware\n" +
		"  modulesLoadingOrder: [dummy, nls_utf8, nls_cp437]\n"
	files[vmtest.TestdataDir+"/kmm/config.yaml"] = vmtest.DataFile([]byte(config), 0o644)
	files[vmtest.TestdataDir+"/kmm/config-inuse.yaml"] = vmtest.DataFile([]byte(strings.Replace(config, "[ip_vs_rr, nosuch_module]", "[ip_vs]", 1)), 0o644)
	return files
}

// kmmTree writes the tree of the KMM tests' kmod image into a new host
// directory: Debian's dummy, nls_utf8 and nls_cp437 (without their
// signatures when unsigned is set) below opt/lib/modules/RELEASE with the
// tree's module lists and the distribution's depmod's indexes, a firmware
// file and a file outside both. It returns the directory and the
// modules' paths below the module directory.
func kmmTree(t *testing.T, ctx context.Context, d distribution, unsigned bool) (string, []string) {
	t.Helper()
	root, release := d.root, d.release
	rels, err := vmtest.ModuleClosure(root, release, []string{"dummy", "nls_utf8", "nls_cp437"})
	if err != nil {
		t.Fatal(err)
	}
	tree := t.TempDir()
	modDir := filepath.Join(tree, "opt/lib/modules", release)
	// With the tree's module lists, which depmod looks for.
	for _, rel := range append(rels, "modules.order", "modules.builtin", "modules.builtin.modinfo") {
		data, err := os.ReadFile(filepath.Join(testmod.ModuleDir(root, release), rel))
		if err != nil {
			t.Fatal(err)
		}
		writeHostFile(t, filepath.Join(modDir, rel), data)
	}
	if unsigned {
		removeSignatures(t, ctx, modDir, rels)
	}
	if err := vmtest.Depmod(ctx, d.depmod, filepath.Join(tree, "opt"), release); err != nil {
		t.Fatal(err)
	}
	writeHostFile(t, filepath.Join(tree, "firmware/gokmod/test.bin"), []byte("gokmod firmware\n"))
	writeHostFile(t, filepath.Join(tree, "etc/os-release"), []byte("ID=kmod-image\n"))
	return tree, rels
}

// signAndExtract pushes the tree as an unsigned image to a registry on
// loopback, signs files in it there with kmodimage.SignImage (gokmod kmm
// sign), checks that the signed image's first layers are the unsigned
// one's, and extracts the signed image's module directory for release
// into shared. It returns the signed image's reference by tag.
func signAndExtract(t *testing.T, ctx context.Context, release, tree string, signer *sign.Signer, filesToSign []string, shared string) string {
	t.Helper()
	reg := registrytest.Start(t)
	unsigned := reg.Push(t, "gokmod/kmm-unsigned", tagOf(release), registrytest.ImageFromDir(t, tree))
	ref := reg.Host + "/gokmod/kmm-signed:" + tagOf(release)
	pull := kmodimage.PullOptions{Insecure: true}
	res, err := kmodimage.SignImage(ctx, unsigned, ref, kmodimage.SignOptions{
		Pull: pull, Signer: signer, FilesToSign: filesToSign, KernelVersion: release,
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := kmodimage.OpenImage(ctx, ref, pull)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := img.Digest(); err != nil || d != res.Digest {
		t.Fatalf("the signed image by tag is %s (%v), SignImage pushed %s", d, err, res.Digest)
	}
	base, err := kmodimage.OpenImage(ctx, unsigned, pull)
	if err != nil {
		t.Fatal(err)
	}
	bm, err := base.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	sm, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(sm.Layers) != len(bm.Layers)+1 {
		t.Fatalf("the signed image has %d layers, the unsigned %d: want one more", len(sm.Layers), len(bm.Layers))
	}
	for i, l := range bm.Layers {
		if sm.Layers[i].Digest != l.Digest {
			t.Fatalf("layer %d of the signed image is %s, the unsigned image's %s", i, sm.Layers[i].Digest, l.Digest)
		}
	}
	if err := kmodimage.Extract(ctx, img, shared, kmodimage.ExtractOptions{KernelVersion: release}); err != nil {
		t.Fatal(err)
	}
	if err := kmodimage.CheckLayout(shared, "", release); err != nil {
		t.Fatal(err)
	}
	return ref
}

func writeHostFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// adapterFiles returns the inputs of the adapter tests (guest
// adapters_test.go): OCI bundles made by Debian's runc ("runc spec") whose
// process.env holds KERNEL_MODULES, and a Kata configuration.toml.
func adapterFiles(t *testing.T) map[string]vmtest.File {
	t.Helper()
	files := map[string]vmtest.File{
		vmtest.TestdataDir + "/kata/configuration.toml": vmtest.DataFile([]byte(
			"[hypervisor.qemu]\npath = \"/usr/bin/qemu-system-x86_64\"\nkernel_params = \"\"\n\n"+
				"[agent.kata]\ndebug = true\nkernel_modules = [\"dummy numdummies=3\", \"  ip_vs   conn_tab_bits=11 \"]\n\n"+
				"[runtime]\nenable_debug = false\n"), 0o644),
	}
	for name, value := range map[string]string{"hook": "ip_vs_wrr,,dummy,nosuch_module", "evil": "-r,ip_vs"} {
		dir := t.TempDir()
		if out, err := exec.Command("runc", "spec", "--bundle", dir).CombinedOutput(); err != nil {
			t.Fatalf("runc spec (Debian package runc): %v\n%s", err, out)
		}
		data, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		var spec map[string]any
		if err := json.Unmarshal(data, &spec); err != nil {
			t.Fatal(err)
		}
		proc := spec["process"].(map[string]any)
		proc["env"] = append(proc["env"].([]any), "KERNEL_MODULES="+value)
		if data, err = json.MarshalIndent(spec, "", "\t"); err != nil {
			t.Fatal(err)
		}
		files[vmtest.TestdataDir+"/bundles/"+name+"/config.json"] = vmtest.DataFile(data, 0o644)
	}
	return files
}

// guestArgs returns the guest test binary's flags: verbose output, a
// timeout that fires before the host's, GOKMOD_VM_RUN as -test.run, and
// GOKMOD_VM_BENCH as -test.bench (with GOKMOD_VM_BENCHTIME, default 10x,
// and no tests unless GOKMOD_VM_RUN asks for some).
func guestArgs(timeout time.Duration) []string {
	args := []string{"-test.v", fmt.Sprintf("-test.timeout=%v", timeout)}
	if run := os.Getenv("GOKMOD_VM_RUN"); run != "" {
		args = append(args, "-test.run="+run)
	}
	if bench := os.Getenv("GOKMOD_VM_BENCH"); bench != "" {
		args = append(args, "-test.bench="+bench, "-test.benchtime="+or(os.Getenv("GOKMOD_VM_BENCHTIME"), "10x"))
		if os.Getenv("GOKMOD_VM_RUN") == "" {
			args = append(args, "-test.run=^$")
		}
	}
	return args
}

// guestEnv names the distribution (GOKMOD_VM_DISTRIBUTION) and the kmod
// release gokmod follows there (GOKMOD_COMPAT, set explicitly so that
// gokmod's default does not matter), and passes CI on, so helpers that
// skip outside CI fail in the guest as they would on the host.
func guestEnv(d distribution) []string {
	env := []string{"GOKMOD_VM_DISTRIBUTION=" + d.name, "GOKMOD_COMPAT=" + d.compat}
	if os.Getenv("GOKMOD_VM_STRACE") != "" {
		env = append(env, "GOKMOD_VM_STRACE=1")
	}
	// BenchmarkColdplugTimeline's extra contenders: gokmod coldplug with
	// each of these GOKMOD_JOBS (comma-separated).
	if jobs := os.Getenv("GOKMOD_VM_COLDPLUG_JOBS"); jobs != "" {
		env = append(env, "GOKMOD_VM_COLDPLUG_JOBS="+jobs)
	}
	if ci, ok := os.LookupEnv("CI"); ok {
		env = append(env, "CI="+ci)
	}
	return env
}

// trackModuleSources opens every directory of the module's source tree.
// The guest binaries are built from those sources, which are not inputs of
// this test binary; go test's result cache records the directories'
// listings (names, sizes, modification times), so a change anywhere in
// the module reruns TestGuest instead of replaying a cached pass.
func trackModuleSources(t *testing.T) {
	t.Helper()
	top, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(top, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	err = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != top && (strings.HasPrefix(d.Name(), ".") || d.Name() == "bin") {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// udevColdplugScript is a boot's coldplug by systemd-udevd, for the
// benchmarks: start the daemon, trigger the add events of every subsystem
// and device, wait for them to settle (and for the events of devices
// that appear later), stop the daemon. The benchmark times it up to the
// moment every module is loaded, not to its end.
const udevColdplugScript = `#!/bin/sh
set -e
mkdir -p /run/udev /etc/udev
/usr/lib/systemd/systemd-udevd --daemon
while [ ! -S /run/udev/control ]; do sleep 0.01; done
udevadm trigger --type=subsystems --action=add
udevadm trigger --type=devices --action=add
udevadm settle --timeout=120
# Devices that drivers create after the queue emptied (a USB disk's SCSI
# device, a second after usb-storage binds; later on a busy emulator)
# are the daemon's too: it runs until the set of modules has not changed
# for 3 s (at most 2 minutes).
modules() { n=0; while read -r line; do n=$((n+1)); done </proc/modules; echo $n; }
last=$(modules); quiet=0; rounds=0
while [ $quiet -lt 30 ] && [ $rounds -lt 1200 ]; do
	sleep 0.1
	udevadm settle --timeout=120
	now=$(modules)
	if [ "$now" = "$last" ]; then quiet=$((quiet+1)); else quiet=0; last=$now; fi
	rounds=$((rounds+1))
done
udevadm control --exit
`
