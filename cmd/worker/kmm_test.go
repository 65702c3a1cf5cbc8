package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gokmod/modprobe/internal/registrytest"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/modprobetest"
)

// kmmNode writes a host module tree (in-tree a, b needing a), an image
// tree below a shared directory (oot_main, oot_dep and firmware) and a
// worker configuration, on the fake kernel of hostTree's release.
func kmmNode(t *testing.T) (k *modprobetest.Kernel, host, shared, cfg string) {
	t.Helper()
	host, k = hostTree(t)
	shared = t.TempDir()
	_, err := modprobetest.WriteTree(filepath.Join(shared, "opt"), fakeRelease,
		modprobetest.Module{Name: "oot_main", Path: "extra/oot_main.ko"},
		modprobetest.Module{Name: "oot_dep", Path: "extra/oot_dep.ko"},
	)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(shared, "firmware/oot/fw.bin"), "firmware")
	cfg = filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, cfg, "kernelVersion: "+fakeRelease+"\ncontainerImage: example.com/oot:1\ninTreeModulesToRemove: [b, nosuch]\n"+
		"modprobe:\n  moduleName: oot_main\n  firmwarePath: /firmware\n  modulesLoadingOrder: [oot_main, oot_dep]\n")
	return k, host, shared, cfg
}

func TestKMMWorker(t *testing.T) {
	k, host, shared, cfg := kmmNode(t)
	dir := filepath.Join(shared, "opt/lib/modules", fakeRelease)
	fw := filepath.Join(t.TempDir(), "fw")
	param := filepath.Join(k.SysfsDir(), "module/firmware_class/parameters/path")
	writeFile(t, param, "\n")
	// b and a, in-tree, are live (as modprobe b leaves them).
	if err := k.Preload("a"); err != nil {
		t.Fatal(err)
	}
	if err := k.Preload("b", "a"); err != nil {
		t.Fatal(err)
	}
	args := []string{"--shared-dir", shared, "--host-root", host, "--kernel", fakeRelease, "--firmware-path", fw}
	o := runFake(k, "gokmod", append([]string{"kmm", "load", cfg}, args...)...)
	expect(t, o, 0, "in-tree module nosuch not found in "+host+"/lib/modules/"+fakeRelease+", skipping\n"+
		"rmmod b\nrmmod a\ninsmod "+dir+"/extra/oot_dep.ko \ninsmod "+dir+"/extra/oot_main.ko \n", "")
	if got := live(k); !reflect.DeepEqual(got, []string{"oot_dep", "oot_main"}) {
		t.Fatalf("live %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(fw, "oot/fw.bin")); string(b) != "firmware" {
		t.Fatalf("firmware %q", b)
	}
	if b, _ := os.ReadFile(param); string(b) != fw {
		t.Fatalf("firmware_class.path %q", b)
	}
	// KMM's worker contract: "worker kmod unload CONFIG --firmware-path DIR".
	o = runFake(k, "worker", append([]string{"kmod", "unload", cfg}, args...)...)
	expect(t, o, 0, "rmmod oot_main\nrmmod oot_dep\n", "")
	if got := live(k); len(got) != 0 {
		t.Fatalf("live %q after unload", got)
	}
	if _, err := os.Stat(filepath.Join(fw, "oot/fw.bin")); !os.IsNotExist(err) {
		t.Fatalf("firmware left: %v", err)
	}
}

func TestKMMErrors(t *testing.T) {
	k, host, shared, cfg := kmmNode(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, bad, "kernelVersion: x\ncontainerImage: y\nmodprobe:\n  moduleName: m\n  parms: [a=1]\n")
	cases := []struct {
		args   []string
		stderr string
	}{
		{nil, "kmm: missing subcommand (load, unload, pull, sign or preflight). See -h.\n"},
		{[]string{"reload"}, "kmm: unknown subcommand \"reload\" (want load, unload, pull, sign or preflight)\n"},
		{[]string{"load"}, "kmm: load takes one configuration file\n"},
		{[]string{"load", bad}, "kmm: " + bad + ":5: invalid worker configuration: error unmarshaling JSON: while decoding JSON: json: unknown field \"parms\"\n"},
		{[]string{"load", cfg, "--shared-dir", shared, "--host-root", host, "--kernel", fakeRelease}, "kmm: kmodimage: modprobe.firmwarePath /firmware is set but the worker has no firmware path\n"},
		{[]string{"pull", "--image", "x"}, "kmm: pull needs --image, --kernel and --dir\n"},
		{[]string{"pull", "--pull-timeout", "soon"}, "kmm: invalid --pull-timeout \"soon\": want a positive duration such as 90s or 10m\n"},
		{[]string{"pull", "--pull-timeout", "0s"}, "kmm: invalid --pull-timeout \"0s\": want a positive duration such as 90s or 10m\n"},
		{[]string{"load", cfg, "--bogus"}, "/sbin/gokmod: unrecognized option '--bogus'\n"},
		{[]string{"load", cfg, "--pull-timeout", "1m", "--host-root", host, "--kernel", fakeRelease, "--shared-dir", shared, "--firmware-path", t.TempDir()},
			"kmm: load takes --pull-timeout only with --pull: without it, it pulls nothing\n"},
		{[]string{"unload", cfg, "--pull-timeout", "1m", "--host-root", host, "--kernel", fakeRelease, "--shared-dir", shared, "--firmware-path", t.TempDir()},
			"kmm: unload takes no --pull-timeout: it pulls nothing\n"},
	}
	for _, tc := range cases {
		expect(t, runFake(k, "gokmod", append([]string{"kmm"}, tc.args...)...), 1, "", tc.stderr)
	}
	if len(k.Inserts()) != 0 || len(k.Removes()) != 0 {
		t.Fatalf("inserts %v removes %v", k.Inserts(), k.Removes())
	}
}

// TestKMMPull pulls kmod images from a real registry (Debian's
// docker-registry): gokmod kmm pull, and kmm load --pull, which loads
// straight from the pulled files.
func TestKMMPull(t *testing.T) {
	k, host, shared, _ := kmmNode(t)
	imageTree := t.TempDir()
	if err := os.CopyFS(imageTree, os.DirFS(shared)); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(imageTree, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n")
	reg := registrytest.Start(t)
	ref := reg.Push(t, "drivers/oot", fakeRelease, registrytest.ImageFromDir(t, imageTree))

	dst := t.TempDir()
	o := runFake(k, "kmm", "pull", "--image", ref, "--kernel", fakeRelease, "--dir", dst, "--insecure", "--firmware", "/firmware")
	expect(t, o, 0, filepath.Join(dst, "opt/lib/modules", fakeRelease)+"\n", "")
	for _, p := range []string{"opt/lib/modules/" + fakeRelease + "/extra/oot_main.ko", "opt/lib/modules/" + fakeRelease + "/modules.dep", "firmware/oot/fw.bin"} {
		want, _ := os.ReadFile(filepath.Join(shared, p))
		if got, err := os.ReadFile(filepath.Join(dst, p)); err != nil || string(got) != string(want) {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, "etc")); !os.IsNotExist(err) {
		t.Errorf("pull wrote outside the module and firmware directories: %v", err)
	}
	o = runFake(k, "kmm", "pull", "--image", ref, "--kernel", "6.5.0", "--dir", t.TempDir(), "--insecure")
	if o.Code != 1 || !strings.Contains(o.Stderr, fakeRelease) {
		t.Errorf("pull of a kernel the image lacks:\n%s", o)
	}

	// load --pull: the configuration's image into the shared directory,
	// then the load.
	pullCfg := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, pullCfg, "kernelVersion: "+fakeRelease+"\ncontainerImage: "+ref+"\ninsecurePull: true\nmodprobe:\n  moduleName: oot_main\n")
	fresh := t.TempDir()
	o = runFake(k, "kmm", "load", pullCfg, "--pull", "--shared-dir", fresh, "--host-root", host, "--kernel", fakeRelease)
	expect(t, o, 0, "insmod "+filepath.Join(fresh, "opt/lib/modules", fakeRelease)+"/extra/oot_main.ko \n", "")

	// With a cache, the files are kept by digest and loaded from there.
	cache := t.TempDir()
	if err := k.DeleteModule("oot_main", 0); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		o = runFake(k, "kmm", "load", pullCfg, "--pull", "--cache", cache, "--host-root", host, "--kernel", fakeRelease)
		if o.Code != 0 || o.Stderr != "" || (i == 0) != strings.HasPrefix(o.Stdout, "insmod "+cache+"/sha256-") {
			t.Fatalf("load --pull --cache, run %d:\n%s", i, o)
		}
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 1 {
		t.Fatalf("cache holds %v", entries)
	}

	// A hostile image: nothing is written, the load does not happen.
	evil := registrytest.Image(t, []registrytest.Entry{
		{Name: "opt/lib/modules/" + fakeRelease + "/extra/oot_main.ko", Data: []byte("x")},
		{Name: "opt/lib/modules/" + fakeRelease + "/evil", Type: tar.TypeSymlink, Linkname: "../../../../../../etc"},
	})
	evilRef := reg.Push(t, "drivers/evil", fakeRelease, evil)
	writeFile(t, pullCfg, "kernelVersion: "+fakeRelease+"\ncontainerImage: "+evilRef+"\ninsecurePull: true\nmodprobe:\n  moduleName: oot_dep\n")
	fresh = t.TempDir()
	o = runFake(k, "kmm", "load", pullCfg, "--pull", "--shared-dir", fresh, "--host-root", host, "--kernel", fakeRelease)
	if o.Code != 1 || !strings.Contains(o.Stderr, "unsafe entry in image") || k.IsLive("oot_dep") {
		t.Fatalf("hostile image:\n%s", o)
	}
	if entries, _ := os.ReadDir(fresh); len(entries) != 0 {
		t.Fatalf("hostile image left %v in the shared directory", entries)
	}
}

// TestKMMPullHostile pulls, with kmm pull and kmm load --pull --cache, an
// image pinned by digest from a registry that swaps its layer for one
// whose oot_main.ko is another module, then from one that stops answering:
// each run fails within a few seconds naming the image and (for the swap)
// the digest, writes nothing, caches nothing and loads nothing; once the
// registry is honest, load --pull --cache loads the honest module.
func TestKMMPullHostile(t *testing.T) {
	k, host, shared, _ := kmmNode(t)
	img := registrytest.ImageFromDir(t, shared)
	evilTree := t.TempDir()
	if err := os.CopyFS(evilTree, os.DirFS(shared)); err != nil {
		t.Fatal(err)
	}
	evilMod := &testmod.Module{Name: "evil", ModInfo: testmod.StandardModInfo("evil", testmod.DefaultVermagic(fakeRelease))}
	evilELF, err := evilMod.ELF()
	if err != nil {
		t.Fatal(err)
	}
	mainPath := filepath.Join("opt/lib/modules", fakeRelease, "extra/oot_main.ko")
	writeFile(t, filepath.Join(evilTree, mainPath), string(evilELF))
	evilLayers, err := registrytest.ImageFromDir(t, evilTree).Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := evilLayers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	evilBlob, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}

	srv := registrytest.Serve(t)
	srv.Put(t, "drivers/oot", fakeRelease, img)
	digest, _ := img.Digest()
	ref := srv.Host + "/drivers/oot@" + digest.String()
	layers, _ := img.Layers()
	layer, _ := layers[0].Digest()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, cfg, "kernelVersion: "+fakeRelease+"\ncontainerImage: "+ref+"\ninsecurePull: true\nmodprobe:\n  moduleName: oot_main\n")
	cache, dst := t.TempDir(), t.TempDir()
	run := func(args ...string) outcome {
		t.Helper()
		start := time.Now()
		o := runFake(k, "gokmod", append([]string{"kmm"}, args...)...)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("kmm %s took %v", args[0], d)
		}
		return o
	}
	nothingDone := func(what string, o outcome, want ...string) {
		t.Helper()
		if o.Code != 1 || o.Stdout != "" {
			t.Errorf("%s:\n%s", what, o)
		}
		for _, w := range want {
			if !strings.Contains(o.Stderr, w) {
				t.Errorf("%s: stderr does not say %q:\n%s", what, w, o.Stderr)
			}
		}
		for _, dir := range []string{dst, cache} {
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("%s: left %v in %s", what, entries, dir)
			}
		}
		if n := len(k.Inserts()); n != 0 {
			t.Errorf("%s: %d modules inserted", what, n)
		}
	}

	srv.SetFault(layer.String(), registrytest.Fault{Body: evilBlob, NoLength: true})
	nothingDone("pull, swapped layer",
		run("pull", "--image", ref, "--kernel", fakeRelease, "--dir", dst, "--insecure", "--pull-timeout", "30s"),
		"content does not match its digest", ref, layer.String())
	loadArgs := []string{"load", cfg, "--pull", "--cache", cache, "--host-root", host, "--kernel", fakeRelease}
	nothingDone("load --pull --cache, swapped layer", run(append(loadArgs, "--pull-timeout", "30s")...),
		"content does not match its digest", ref, layer.String())

	srv.SetFault(layer.String(), registrytest.Fault{Stall: true})
	nothingDone("load --pull --cache, silent registry", run(append(loadArgs, "--pull-timeout", "1s")...),
		"took longer than its timeout of 1s", ref)

	srv.ClearFaults()
	o := run(loadArgs...)
	if o.Code != 0 || !strings.HasPrefix(o.Stdout, "insmod "+cache+"/sha256-"+digest.Hex+"-") {
		t.Fatalf("honest load --pull --cache:\n%s", o)
	}
	ins := k.Inserts()
	if len(ins) != 1 || ins[0].Module != "oot_main" || ins[0].Err != nil {
		t.Fatalf("inserts %+v", ins)
	}
	got, err := os.ReadFile(ins[0].File)
	want, _ := os.ReadFile(filepath.Join(shared, mainPath))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("loaded %s: %v, not the honest module", ins[0].File, err)
	}
}
