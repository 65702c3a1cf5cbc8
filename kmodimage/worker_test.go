package kmodimage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/modprobetest"
)

const rel = "6.1.0-kmm"

// node is a fake node for the worker: a host module tree with the
// in-tree ice and irdma (irdma needs ice) and a builtin module, an image
// extracted below the shared directory (ice_oot, irdma_oot, broken, and
// firmware), and a fake kernel with a firmware_class.path parameter.
type node struct {
	k            *modprobetest.Kernel
	host, shared string
	fw           string // the host's firmware directory
	log          []string
	w            *Worker
	fwParam      string
	// cfgMutate, if set, adjusts the configuration a test case loads.
	cfgMutate func(*ModuleConfig)
}

func newNode(t *testing.T) *node {
	t.Helper()
	n := &node{host: t.TempDir(), shared: t.TempDir()}
	n.fw = filepath.Join(t.TempDir(), "firmware")
	hostDir, err := modprobetest.WriteTree(n.host, rel,
		modprobetest.Module{Name: "ice"}, modprobetest.Module{Name: "irdma", Depends: []string{"ice"}}, modprobetest.Module{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(hostDir, "modules.builtin"), "kernel/drivers/builtin_mod.ko\n")
	if _, err := modprobetest.WriteTree(filepath.Join(n.shared, "opt"), rel,
		modprobetest.Module{Name: "ice_oot", Params: []string{"debug:int"}},
		modprobetest.Module{Name: "irdma_oot"},
		modprobetest.Module{Name: "broken"},
	); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(n.shared, "firmware/ice/ddp.pkg"), "ddp")
	write(t, filepath.Join(n.shared, "firmware/ice.bin"), "bin")
	n.k = modprobetest.NewKernel(t)
	if err := n.k.SetRelease(rel); err != nil {
		t.Fatal(err)
	}
	n.fwParam = filepath.Join(n.k.SysfsDir(), "module/firmware_class/parameters/path")
	write(t, n.fwParam, "\n")
	n.k.FailInsert("broken", syscall.ENOEXEC)
	n.w = &Worker{
		SharedDir:     n.shared,
		FirmwarePath:  n.fw,
		KernelRelease: rel,
		Options:       n.k.Options(modprobe.Options{RootDir: n.host, ConfigPaths: []string{}}),
		Log:           func(s string) { n.log = append(n.log, s) },
	}
	return n
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (n *node) inserts() []string {
	var out []string
	for _, in := range n.k.Inserts() {
		out = append(out, strings.TrimSpace(in.Module+" "+in.Params))
	}
	return out
}

func (n *node) removes() []string {
	var out []string
	for _, r := range n.k.Removes() {
		out = append(out, r.Module)
	}
	return out
}

func config(mutate func(*ModuleConfig)) *ModuleConfig {
	c := &ModuleConfig{
		KernelVersion:         rel,
		InTreeModulesToRemove: []string{"irdma", "ice", "absent_mod", "builtin-mod"},
		Modprobe: ModprobeSpec{
			ModuleName:          "ice_oot",
			Parameters:          []string{"debug=1"},
			DirName:             "/opt",
			FirmwarePath:        "/firmware",
			ModulesLoadingOrder: []string{"ice_oot", "irdma_oot"},
		},
	}
	if mutate != nil {
		mutate(c)
	}
	return c
}

func TestWorkerLoadUnload(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	for _, m := range []string{"ice", "irdma"} {
		if err := n.k.Preload(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.w.Load(ctx, config(nil)); err != nil {
		t.Fatal(err)
	}
	// In-tree modules out (absent and builtin names skipped), the order's
	// last module first, the parameters on the Module's own.
	if got := n.removes(); !reflect.DeepEqual(got, []string{"irdma", "ice"}) {
		t.Errorf("removed %q", got)
	}
	if got := n.inserts(); !reflect.DeepEqual(got, []string{"irdma_oot", "ice_oot debug=1"}) {
		t.Errorf("inserted %q", got)
	}
	for path, want := range map[string]string{"ice/ddp.pkg": "ddp", "ice.bin": "bin"} {
		if b, err := os.ReadFile(filepath.Join(n.fw, path)); err != nil || string(b) != want {
			t.Errorf("firmware %s: %q, %v", path, b, err)
		}
	}
	if b, _ := os.ReadFile(n.fwParam); string(b) != n.fw {
		t.Errorf("firmware_class.path = %q", b)
	}
	wantLog := []string{
		"in-tree module absent_mod not found in " + n.host + "/lib/modules/" + rel + ", skipping",
		"in-tree module builtin-mod is builtin, skipping",
		"rmmod irdma", "rmmod ice",
		"insmod " + n.shared + "/opt/lib/modules/" + rel + "/kernel/irdma_oot.ko ",
		"insmod " + n.shared + "/opt/lib/modules/" + rel + "/kernel/ice_oot.ko debug=1",
	}
	if !reflect.DeepEqual(n.log, wantLog) {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(n.log, "\n"), strings.Join(wantLog, "\n"))
	}

	// A pod restart: nothing to do, success.
	if err := n.w.Load(ctx, config(nil)); err != nil {
		t.Fatal(err)
	}
	if len(n.k.Inserts()) != 2 {
		t.Fatalf("inserts after a second load: %q", n.inserts())
	}

	if err := n.w.Unload(ctx, config(nil)); err != nil {
		t.Fatal(err)
	}
	if got := n.k.Loaded(); len(got) != 0 {
		t.Fatalf("loaded after unload: %q", got)
	}
	// Firmware files go, directories stay.
	if _, err := os.Stat(filepath.Join(n.fw, "ice/ddp.pkg")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ddp.pkg: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(n.fw, "ice")); err != nil || !fi.IsDir() {
		t.Errorf("firmware directory removed: %v", err)
	}
	// Unloading again: modules not loaded are success.
	if err := n.w.Unload(ctx, config(nil)); err != nil {
		t.Fatal(err)
	}
}

func TestWorkerFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("in-tree module in use", func(t *testing.T) {
		n := newNode(t)
		if err := n.k.Preload("ice"); err != nil {
			t.Fatal(err)
		}
		if err := n.k.Use("ice"); err != nil {
			t.Fatal(err)
		}
		err := n.w.Load(ctx, config(nil))
		if !errors.Is(err, modprobe.ErrInUse) || !strings.HasPrefix(err.Error(), "could not remove in-tree modules irdma ice: ") {
			t.Fatalf("Load: %v", err)
		}
		if len(n.k.Inserts()) != 0 {
			t.Fatalf("inserted %q after the in-tree failure", n.inserts())
		}
		if _, err := os.Stat(n.fw); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("firmware copied after the failure: %v", err)
		}
	})
	t.Run("a softdep failure is ignored", func(t *testing.T) {
		n := newNode(t)
		c := config(func(c *ModuleConfig) { c.Modprobe.ModulesLoadingOrder = []string{"ice_oot", "broken", "irdma_oot"} })
		if err := n.w.Load(ctx, c); err != nil {
			t.Fatal(err)
		}
		if got := n.k.Loaded(); !slices.Contains(got, "ice_oot") || !slices.Contains(got, "irdma_oot") || slices.Contains(got, "broken") {
			t.Fatalf("loaded %q", got)
		}
	})
	t.Run("the module fails", func(t *testing.T) {
		n := newNode(t)
		n.k.FailInsert("ice_oot", syscall.EKEYREJECTED)
		err := n.w.Load(ctx, config(nil))
		if !errors.Is(err, syscall.EKEYREJECTED) || !strings.HasPrefix(err.Error(), "failed to load module ice_oot: ") {
			t.Fatalf("Load: %v", err)
		}
	})
	t.Run("module not in the image", func(t *testing.T) {
		n := newNode(t)
		err := n.w.Load(ctx, config(func(c *ModuleConfig) { c.Modprobe.ModuleName = "nosuch"; c.Modprobe.ModulesLoadingOrder = nil }))
		if !errors.Is(err, modprobe.ErrNotFound) {
			t.Fatalf("Load: %v", err)
		}
	})
	for name, mutate := range map[string]func(*ModuleConfig){
		"a positional token in args.load": func(c *ModuleConfig) { c.Modprobe.Args = &ModprobeArgs{Load: []string{"-v", "extra"}} },
		"-r in args.load":                 func(c *ModuleConfig) { c.Modprobe.Args = &ModprobeArgs{Load: []string{"-r"}} },
		"-D in args.load":                 func(c *ModuleConfig) { c.Modprobe.Args = &ModprobeArgs{Load: []string{"-D"}} },
		"rawArgs.load removes": func(c *ModuleConfig) {
			c.Modprobe.ModuleName, c.Modprobe.ModulesLoadingOrder = "", nil
			c.Modprobe.RawArgs = &ModprobeArgs{Load: []string{"-r", "x"}, Unload: []string{"-r", "x"}}
		},
		"rawArgs.load without a module": func(c *ModuleConfig) {
			c.Modprobe.ModuleName, c.Modprobe.ModulesLoadingOrder = "", nil
			c.Modprobe.RawArgs = &ModprobeArgs{Load: []string{"-v"}, Unload: []string{"-r", "x"}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			n := newNode(t)
			if err := n.k.Preload("ice"); err != nil {
				t.Fatal(err)
			}
			err := n.w.Load(ctx, config(mutate))
			if !errors.Is(err, ErrBadArgs) && !errors.Is(err, ErrUnsupportedFlag) {
				t.Fatalf("Load: %v", err)
			}
			// Nothing happened: the in-tree module stays, no firmware.
			if len(n.k.Inserts()) != 0 || len(n.k.Removes()) != 0 || n.log != nil {
				t.Fatalf("inserts %q, removes %q, log %q", n.inserts(), n.removes(), n.log)
			}
			if b, _ := os.ReadFile(n.fwParam); string(b) != "\n" {
				t.Fatalf("firmware_class.path written: %q", b)
			}
		})
	}
	t.Run("image without indexes is indexed", func(t *testing.T) {
		n := newNode(t)
		dir := filepath.Join(n.shared, "opt/lib/modules", rel)
		if err := os.Remove(filepath.Join(dir, "modules.dep")); err != nil {
			t.Fatal(err)
		}
		if err := n.w.Load(ctx, config(nil)); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(n.log, "indexed "+dir) || !n.k.IsLive("ice_oot") {
			t.Fatalf("log %q, loaded %q", n.log, n.k.Loaded())
		}
		if b, err := os.ReadFile(filepath.Join(dir, "modules.dep")); err != nil || !strings.Contains(string(b), "kernel/ice_oot.ko:\n") {
			t.Fatalf("modules.dep %q, %v", b, err)
		}
	})
	t.Run("image that cannot be indexed", func(t *testing.T) {
		n := newNode(t)
		if err := n.k.Preload("ice"); err != nil {
			t.Fatal(err)
		}
		dep := filepath.Join(n.shared, "opt/lib/modules", rel, "modules.dep")
		// A directory where the index goes: depmod cannot write it.
		if err := os.Remove(dep); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(dep, 0o755); err != nil {
			t.Fatal(err)
		}
		err := n.w.Load(ctx, config(nil))
		if !errors.Is(err, ErrLayout) || !strings.Contains(err.Error(), "could not be indexed") {
			t.Fatalf("Load: %v", err)
		}
		if len(n.k.Removes()) != 0 || len(n.k.Inserts()) != 0 {
			t.Fatalf("removes %q, inserts %q before the layout check", n.removes(), n.inserts())
		}
	})
	t.Run("firmware without a worker firmware path", func(t *testing.T) {
		n := newNode(t)
		n.w.FirmwarePath = ""
		if err := n.w.Load(ctx, config(nil)); err == nil || len(n.k.Inserts()) != 0 {
			t.Fatalf("Load: %v, inserts %q", err, n.inserts())
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		n := newNode(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := n.w.Load(cctx, config(func(c *ModuleConfig) { c.InTreeModulesToRemove = nil })); !errors.Is(err, context.Canceled) {
			t.Fatalf("Load: %v", err)
		}
		if len(n.k.Inserts()) != 0 {
			t.Fatalf("inserted %q", n.inserts())
		}
	})
}

func TestWorkerRawArgsAndArgs(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	root := filepath.Join(n.shared, "opt")
	c := config(func(c *ModuleConfig) {
		c.InTreeModulesToRemove = nil
		c.Modprobe = ModprobeSpec{DirName: "/opt", RawArgs: &ModprobeArgs{
			Load:   []string{"-v", "-d", root, "ice_oot", "debug=2"},
			Unload: []string{"-rv", "-d", root, "ice_oot"},
		}}
	})
	if err := n.w.Load(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got := n.inserts(); !reflect.DeepEqual(got, []string{"ice_oot debug=2"}) {
		t.Fatalf("inserted %q", got)
	}
	if err := n.w.Unload(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got := n.removes(); !reflect.DeepEqual(got, []string{"ice_oot"}) {
		t.Fatalf("removed %q", got)
	}

	// args: --first-time makes a second load fail; -a loads the module
	// and its parameters are then names, as modprobe -a takes them.
	n = newNode(t)
	c = config(func(c *ModuleConfig) {
		c.InTreeModulesToRemove = nil
		c.Modprobe.FirmwarePath = ""
		c.Modprobe.ModulesLoadingOrder = nil
		c.Modprobe.Args = &ModprobeArgs{Load: []string{"--first-time"}, Unload: []string{"--first-time"}}
	})
	if err := n.w.Load(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := n.w.Load(ctx, c); !errors.Is(err, modprobe.ErrAlreadyLoaded) {
		t.Fatalf("second --first-time load: %v", err)
	}
	if err := n.w.Unload(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := n.w.Unload(ctx, c); !errors.Is(err, modprobe.ErrNotLoaded) {
		t.Fatalf("second --first-time unload: %v", err)
	}
}

func TestSoftdepConf(t *testing.T) {
	if got := SoftdepConf([]string{"m0", "m1", "m2"}); got != "softdep m0 pre: m1\nsoftdep m1 pre: m2\n" {
		t.Fatalf("SoftdepConf = %q", got)
	}
	if got := SoftdepConf([]string{"m0"}); got != "" {
		t.Fatalf("one module: %q", got)
	}
}

// TestWorkerEmptyDirName loads and unloads with a configuration built in
// code whose dirName is empty: it stands for DefaultDirName, as Validate
// and Extract take it, so the modules come from SharedDir/opt, and a
// link sending SharedDir/opt elsewhere is refused as for "/opt".
func TestWorkerEmptyDirName(t *testing.T) {
	ctx := context.Background()
	noDirName := func(c *ModuleConfig) { c.Modprobe.DirName = "" }
	n := newNode(t)
	if err := n.w.Load(ctx, config(noDirName)); err != nil {
		t.Fatal(err)
	}
	if got := n.inserts(); !reflect.DeepEqual(got, []string{"irdma_oot", "ice_oot debug=1"}) {
		t.Errorf("inserted %q", got)
	}
	want := "insmod " + n.shared + "/opt/lib/modules/" + rel + "/kernel/ice_oot.ko debug=1"
	if !slices.Contains(n.log, want) {
		t.Errorf("log %q, want %q", n.log, want)
	}
	if err := n.w.Unload(ctx, config(noDirName)); err != nil {
		t.Fatal(err)
	}
	if got := n.k.Loaded(); len(got) != 0 {
		t.Fatalf("loaded after unload: %q", got)
	}

	n = newNode(t)
	out := t.TempDir()
	if err := os.Rename(filepath.Join(n.shared, "opt"), filepath.Join(out, "opt")); err != nil {
		t.Fatal(err)
	}
	relink(t, filepath.Join(out, "opt"), filepath.Join(n.shared, "opt"))
	for _, run := range []func(context.Context, *ModuleConfig) error{n.w.Load, n.w.Unload} {
		if err := run(ctx, config(noDirName)); !errors.Is(err, ErrOutsideRoot) || !strings.Contains(err.Error(), "modprobe.dirName /opt") {
			t.Fatalf("worker with /opt a link out: %v; want ErrOutsideRoot naming /opt", err)
		}
	}
	if len(n.k.Inserts()) != 0 || len(n.k.Removes()) != 0 {
		t.Errorf("inserts %q, removes %q", n.inserts(), n.removes())
	}
}
