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
)

// TestGuest builds the guest tests (package internal/vmtest/guest) and
// gokmod, boots Debian's kernel with them under qemu and fails unless
// every guest test passes. The console streams into the test log. The
// environment variable GOKMOD_VM_RUN selects guest tests as -run does.
func TestGuest(t *testing.T) {
	vmtest.RequireVM(t)
	root, release := testmod.DebianTree(t)
	trackModuleSources(t)

	timeout := 4 * time.Minute
	if os.Getenv("GOKMOD_VM_BENCH") != "" {
		timeout = 20 * time.Minute
	}
	if d, ok := t.Deadline(); ok && time.Until(d)-30*time.Second < timeout {
		timeout = time.Until(d) - 30*time.Second
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()

	dir := t.TempDir()
	guestBin := filepath.Join(dir, "guest.test")
	gokmodBin := filepath.Join(dir, "gokmod")
	start := time.Now()
	var wg sync.WaitGroup
	var guestErr, gokmodErr, kernelErr error
	var kernel string
	wg.Go(func() { guestErr = vmtest.BuildTest(ctx, vmtest.GuestPackage, guestBin) })
	wg.Go(func() { gokmodErr = vmtest.BuildGokmod(ctx, gokmodBin) })
	wg.Go(func() { kernel, kernelErr = vmtest.BootKernel(ctx, vmtest.KernelPath(root, release), dir) })
	wg.Wait()
	if guestErr != nil || gokmodErr != nil {
		t.Fatalf("building the guest binaries: %v", errors.Join(guestErr, gokmodErr))
	}
	if kernelErr != nil {
		t.Logf("%v (slower boot)", kernelErr)
	}
	t.Logf("built the guest binaries and the kernel in %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	nls, err := vmtest.NLSModules(root, release)
	if err != nil || len(nls) < 20 {
		t.Fatalf("%d NLS modules in %s (%v): the benchmarks need at least 20", len(nls), root, err)
	}
	img := vmtest.Image{
		Root:    root,
		Release: release,
		Modules: append(vmtest.Modules(), nls...),
		Init:    vmtest.HostFile(guestBin),
		Files:   guestFiles(t, ctx, root, release, gokmodBin),
		Args:    guestArgs(timeout - 15*time.Second),
		Env:     guestEnv(),
	}
	initrd := filepath.Join(dir, "initrd.cpio")
	if err := img.Build(ctx, initrd); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(initrd)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built the %.1f MB image in %v", float64(fi.Size())/1e6, time.Since(start).Round(time.Millisecond))

	console := vmtest.NewLineWriter(func(line string) { t.Log(line) })
	res, err := vmtest.Run(ctx, vmtest.Machine{
		Kernel:  kernel,
		Initrd:  initrd,
		Console: console,
	})
	console.Flush()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the VM ran for %v", res.Duration.Round(time.Millisecond))
	if res.Status != 0 {
		t.Fatalf("the guest tests failed with status %d; their output is logged above", res.Status)
	}
}

// guestFiles returns the extra files of the guest image: gokmod as
// /bin/gokmod with links /gokmod/TOOL (modprobe, insmod, rmmod, lsmod) to
// run it as each tool, and the variants of dummy.ko (compressed, corrupt,
// other vermagic) below vmtest.TestdataDir. Add test inputs here; files
// below /lib/modules/RELEASE are indexed by depmod with the modules.
func guestFiles(t *testing.T, ctx context.Context, root, release, gokmodBin string) map[string]vmtest.File {
	t.Helper()
	files := map[string]vmtest.File{"/bin/gokmod": vmtest.HostFile(gokmodBin)}
	for _, tool := range []string{"modprobe", "insmod", "rmmod", "lsmod"} {
		files["/gokmod/"+tool] = vmtest.Symlink("/bin/gokmod")
	}
	dummy, err := vmtest.ModuleClosure(root, release, []string{"dummy"})
	if err != nil {
		t.Fatal(err)
	}
	variants, err := vmtest.ModuleVariants(ctx, filepath.Join(testmod.ModuleDir(root, release), dummy[0]), "dummy", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(files, variants)
	maps.Copy(files, adapterFiles(t))
	maps.Copy(files, kmmFiles(t, ctx, root, release))
	return files
}

// kmmFiles returns the inputs of the KMM worker test (guest kmm_test.go):
// a kmod image built from Debian's dummy, nls_utf8 and nls_cp437 with
// kmod's depmod indexes and a firmware file, pushed to a real registry
// (Debian's docker-registry), pulled and extracted with kmodimage, below
// TestdataDir/kmm/shared; and the worker's configurations.
func kmmFiles(t *testing.T, ctx context.Context, root, release string) map[string]vmtest.File {
	t.Helper()
	rels, err := vmtest.ModuleClosure(root, release, []string{"dummy", "nls_utf8", "nls_cp437"})
	if err != nil {
		t.Fatal(err)
	}
	tree := t.TempDir()
	modDir := filepath.Join(tree, "opt/lib/modules", release)
	for _, rel := range rels {
		data, err := os.ReadFile(filepath.Join(testmod.ModuleDir(root, release), rel))
		if err != nil {
			t.Fatal(err)
		}
		writeHostFile(t, filepath.Join(modDir, rel), data)
	}
	if out, err := exec.Command("depmod", "-b", filepath.Join(tree, "opt"), release).CombinedOutput(); err != nil {
		t.Fatalf("depmod: %v\n%s", err, out)
	}
	writeHostFile(t, filepath.Join(tree, "firmware/gokmod/test.bin"), []byte("gokmod firmware\n"))
	writeHostFile(t, filepath.Join(tree, "etc/os-release"), []byte("ID=kmod-image\n"))

	reg := registrytest.Start(t)
	ref := reg.Push(t, "gokmod/kmm-dummy", release, registrytest.ImageFromDir(t, tree))
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
	files := map[string]vmtest.File{}
	err = filepath.WalkDir(shared, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(shared, p)
		files[vmtest.TestdataDir+"/kmm/shared/"+rel] = vmtest.HostFile(p)
		return err
	})
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

// guestEnv passes CI on, so helpers that skip outside CI fail in the
// guest as they would on the host.
func guestEnv() []string {
	if ci, ok := os.LookupEnv("CI"); ok {
		return []string{"CI=" + ci}
	}
	return nil
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
