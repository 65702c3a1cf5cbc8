package modprobe_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/modprobetest"
)

// exampleTree writes a small module tree with depmod's text indexes and a
// modprobe.d file, and returns a Loader on it.
func exampleTree() (*modprobe.Loader, string) {
	root, err := os.MkdirTemp("", "gokmod-example")
	check(err)
	dir := filepath.Join(root, "lib/modules/6.1.0")
	files := map[string]string{
		"modules.dep": "kernel/net/ip_vs.ko: kernel/net/nf_conntrack.ko\n" +
			"kernel/net/ip_vs_wrr.ko: kernel/net/ip_vs.ko kernel/net/nf_conntrack.ko\n" +
			"kernel/net/nf_conntrack.ko:\n" +
			"kernel/net/dummy.ko:\n",
		"modules.alias":   "alias rtnl-link-dummy dummy\nalias ip_vs_scheduler_wrr ip_vs_wrr\n",
		"modules.softdep": "softdep ip_vs_wrr pre: dummy\n",
	}
	check(os.MkdirAll(filepath.Join(dir, "kernel/net"), 0o755))
	for name, content := range files {
		check(os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	for _, ko := range []string{"ip_vs", "ip_vs_wrr", "nf_conntrack", "dummy"} {
		check(os.WriteFile(filepath.Join(dir, "kernel/net", ko+".ko"), nil, 0o644))
	}
	conf := filepath.Join(root, "modprobe.d")
	check(os.MkdirAll(conf, 0o755))
	check(os.WriteFile(filepath.Join(conf, "dummy.conf"), []byte("options dummy numdummies=2\n"), 0o644))

	l, err := modprobe.Open(modprobe.Options{
		RootDir:       root,
		KernelRelease: "6.1.0",
		ConfigPaths:   []string{conf},
		ProcDir:       filepath.Join(root, "proc"), // no kernel command line
		SysfsDir:      filepath.Join(root, "sys"),  // nothing loaded
	})
	check(err)
	return l, root
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}

// Plan shows what modprobe would do, here for a module with dependencies,
// a softdep from depmod's modules.softdep and configured options.
func ExampleLoader_Plan() {
	l, root := exampleTree()
	defer os.RemoveAll(root)
	defer l.Close()

	plan, err := l.Plan(context.Background(), "ip-vs-wrr", nil, modprobe.PlanOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, pr := range plan.Probes {
		for _, a := range pr.Actions {
			fmt.Printf("%s %s %q\n", a.Kind, a.Module, a.Params)
		}
	}
	// Output:
	// insmod nf_conntrack ""
	// insmod ip_vs ""
	// insmod dummy "numdummies=2 "
	// insmod ip_vs_wrr ""
}

// PlanFile plans the module in a file, as modprobe PATH does since kmod
// 31: that file is inserted, with the dependencies, softdeps and options
// of its name from the module directory and the configuration.
func ExampleLoader_PlanFile() {
	l, root := exampleTree()
	defer os.RemoveAll(root)
	defer l.Close()
	file := filepath.Join(root, "build", "ip_vs_wrr.ko")
	check(os.MkdirAll(filepath.Dir(file), 0o755))
	check(os.WriteFile(file, nil, 0o644))

	plan, err := l.PlanFile(context.Background(), file, nil, modprobe.PlanOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, pr := range plan.Probes {
		for _, a := range pr.Actions {
			fmt.Println(a.Kind, a.Module, strings.TrimPrefix(a.Path, root))
		}
	}
	// Output:
	// insmod nf_conntrack /lib/modules/6.1.0/kernel/net/nf_conntrack.ko
	// insmod ip_vs /lib/modules/6.1.0/kernel/net/ip_vs.ko
	// insmod dummy /lib/modules/6.1.0/kernel/net/dummy.ko
	// insmod ip_vs_wrr /build/ip_vs_wrr.ko
}

// Lookup resolves aliases through the lookup chain.
func ExampleLoader_Lookup() {
	l, root := exampleTree()
	defer os.RemoveAll(root)
	defer l.Close()

	mods, err := l.Lookup(context.Background(), "rtnl-link-dummy")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range mods {
		fmt.Println(m.Name, "via", m.Alias, "at", strings.TrimPrefix(m.Path, root))
	}

	_, err = l.Lookup(context.Background(), "no-such-module")
	fmt.Println(errors.Is(err, modprobe.ErrNotFound))
	// Output:
	// dummy via rtnl_link_dummy at /lib/modules/6.1.0/kernel/net/dummy.ko
	// true
}

// DryRun prints the plan the way modprobe --show-depends does; module
// parameters go to the requested module only.
func ExampleProbe_DryRun() {
	l, root := exampleTree()
	defer os.RemoveAll(root)
	defer l.Close()

	plan, _ := l.Plan(context.Background(), "dummy", []string{"numdummies=3"}, modprobe.PlanOptions{IgnoreLoaded: true})
	for _, pr := range plan.Probes {
		_ = pr.DryRun(modprobe.DryRunOptions{}, func(a modprobe.Action) {
			fmt.Println(strings.ReplaceAll(a.String(), root, "ROOT"))
		})
	}
	// Output:
	// insmod ROOT/lib/modules/6.1.0/kernel/net/dummy.ko numdummies=2 numdummies=3
}

// JoinParams quotes values with spaces, as modprobe does with its
// command-line parameters.
func ExampleJoinParams() {
	fmt.Println(modprobe.JoinParams([]string{"debug=1", "name=two words", `pre="quoted already"`}))
	// Output:
	// debug=1 name="two words" pre="quoted already"
}

// WriteConfig prints the configuration as modprobe --showconfig does.
func ExampleLoader_WriteConfig() {
	l, root := exampleTree()
	defer os.RemoveAll(root)
	defer l.Close()

	var b strings.Builder
	_ = l.WriteConfig(context.Background(), &b)
	fmt.Print(b.String())
	// Output:
	// options dummy numdummies=2
	// softdep ip_vs_wrr pre: dummy
	//
	// # End of configuration files. Dumping indexes now:
	//
	// alias ip_vs_scheduler_wrr ip_vs_wrr
	// alias rtnl_link_dummy dummy
}

// exampleKernel returns a Loader on a fake kernel and a tree with the
// ip_vs_wrr chain, for the examples.
func exampleKernel() (*modprobe.Loader, *modprobetest.Kernel, func()) {
	dir, _ := os.MkdirTemp("", "example")
	_, err := modprobetest.WriteTree(dir, "6.1.0-ex",
		modprobetest.Module{Name: "nf_defrag_ipv4"},
		modprobetest.Module{Name: "nf_conntrack", Depends: []string{"nf_defrag_ipv4"}},
		modprobetest.Module{Name: "ip_vs", Depends: []string{"nf_conntrack"}},
		modprobetest.Module{Name: "ip_vs_wrr", Depends: []string{"ip_vs"}},
		modprobetest.Module{Name: "dummy", Params: []string{"numdummies:int"}},
	)
	if err != nil {
		panic(err)
	}
	k, err := modprobetest.New(dir + "/fake")
	if err != nil {
		panic(err)
	}
	l, err := modprobe.Open(k.Options(modprobe.Options{RootDir: dir, KernelRelease: "6.1.0-ex", ConfigPaths: []string{}}))
	if err != nil {
		panic(err)
	}
	return l, k, func() { l.Close(); os.RemoveAll(dir) }
}

func ExampleLoader_Load() {
	l, k, done := exampleKernel()
	defer done()
	ctx := context.Background()
	if err := l.Load(ctx, "ip_vs_wrr"); err != nil {
		panic(err)
	}
	if err := l.Load(ctx, "dummy", "numdummies=3"); err != nil {
		panic(err)
	}
	fmt.Println(k.Loaded())
	// A second load finds everything live and does nothing.
	fmt.Println(l.Load(ctx, "ip_vs_wrr"), len(k.Inserts()))
	// Output:
	// [nf_defrag_ipv4 nf_conntrack ip_vs ip_vs_wrr dummy]
	// <nil> 5
}

func ExampleLoader_LoadAllWith() {
	l, k, done := exampleKernel()
	defer done()
	// Independent modules load in parallel, dependencies first, each once.
	err := l.LoadAllWith(context.Background(), []string{"ip_vs_wrr", "dummy", "ip_vs"}, modprobe.LoadOptions{Jobs: 4})
	fmt.Println(err, len(k.Loaded()), len(k.Inserts()))
	// Output:
	// <nil> 5 5
}

// ExampleKmodMessages logs a failed load as modprobe would have reported
// it, and each failing module for a program to act on.
func ExampleKmodMessages() {
	l, k, done := exampleKernel()
	defer done()
	k.FailInsert("ip_vs", syscall.ENOEXEC)
	err := l.LoadAll(context.Background(), "ip_vs_wrr", "dummy", "no_such_module")
	for _, msg := range modprobe.KmodMessages(err) {
		fmt.Println("modprobe: ERROR:", strings.ReplaceAll(msg, l.ModuleDir(), "MODDIR"))
	}
	for _, f := range modprobe.Failures(err) {
		fmt.Println(f.Op, f.Module, errors.Is(f, syscall.ENOEXEC))
	}
	// Output:
	// modprobe: ERROR: could not insert 'ip_vs_wrr': Exec format error
	// modprobe: ERROR: Module no_such_module not found in directory MODDIR
	// insert ip_vs true
	// plan no_such_module false
}

func ExampleLoader_Remove() {
	l, k, done := exampleKernel()
	defer done()
	ctx := context.Background()
	_ = l.Load(ctx, "ip_vs_wrr")
	// Like modprobe -r: the module, then the dependencies nobody uses
	// any more, in one pass.
	err := l.RemoveWith(ctx, []string{"ip_vs_wrr"}, modprobe.RemoveOptions{
		Show: func(a modprobe.Action) { fmt.Println(a) },
	})
	fmt.Println(err, k.Loaded())
	_ = k.Use("nf_defrag_ipv4")
	err = l.Remove(ctx, "nf_defrag_ipv4")
	fmt.Println(errors.Is(err, modprobe.ErrInUse))
	// Output:
	// rmmod ip_vs_wrr
	// rmmod ip_vs
	// <nil> [nf_defrag_ipv4 nf_conntrack]
	// true
}

// ExampleDecompressModule decompresses a module file already in memory
// (here an xz-compressed module), refusing an image over the size bound.
func ExampleDecompressModule() {
	elfImage, err := (&testmod.Module{Name: "demo"}).ELF()
	check(err)
	file, err := testmod.Compress(elfImage, testmod.Xz)
	check(err)

	img, err := modprobe.DecompressModule(file, 0)
	check(err)
	fmt.Printf("%q, same image: %v\n", img[:4], bytes.Equal(img, elfImage))

	_, err = modprobe.DecompressModule(file, 64)
	fmt.Println("with a 64-byte bound:", errors.Is(err, modprobe.ErrTooLarge))
	// Output:
	// "\x7fELF", same image: true
	// with a 64-byte bound: true
}

// A layered tree: an image's module directory over the host's. The
// image's ice needs the host's auxiliary, and hides the host's own ice.
func ExampleOpenContext_lowerDirs() {
	host, err := os.MkdirTemp("", "gokmod-example-host")
	check(err)
	defer os.RemoveAll(host)
	image, err := os.MkdirTemp("", "gokmod-example-image")
	check(err)
	defer os.RemoveAll(image)
	hostDir, err := modprobetest.WriteTree(host, "6.1.0",
		modprobetest.Module{Name: "auxiliary"},
		modprobetest.Module{Name: "ice", Path: "kernel/drivers/ice.ko"},
	)
	check(err)
	// The image's tree, written with a copy of auxiliary so that its
	// ice may name it, which is then left out as KMM images leave out
	// in-tree modules.
	imageDir, err := modprobetest.WriteTree(image, "6.1.0",
		modprobetest.Module{Name: "auxiliary"},
		modprobetest.Module{Name: "ice", Path: "extra/ice.ko.xz", Depends: []string{"auxiliary"}},
	)
	check(err)
	check(os.Remove(filepath.Join(imageDir, "kernel/auxiliary.ko")))

	l, err := modprobe.OpenContext(context.Background(), modprobe.Options{
		ModuleDir:   imageDir,
		LowerDirs:   []string{hostDir},
		ConfigPaths: []string{},
	})
	check(err)
	defer l.Close()
	plan, err := l.Plan(context.Background(), "ice", nil, modprobe.PlanOptions{IgnoreLoaded: true})
	check(err)
	for _, a := range plan.Probes[0].Actions {
		fmt.Println(strings.Replace(strings.Replace(a.Path, imageDir, "IMAGE", 1), hostDir, "HOST", 1))
	}
	// Output:
	// HOST/kernel/auxiliary.ko
	// IMAGE/extra/ice.ko.xz
}

// The host's deny list file, which gokmod's tools read, for a program's
// own Loader.
func ExampleReadDenyFile() {
	f, err := os.CreateTemp("", "deny.conf")
	check(err)
	defer os.Remove(f.Name())
	_, err = f.WriteString("# protocols nobody here uses\nsctp dccp\nsnd_* # no sound\n")
	check(err)
	check(f.Close())

	deny, err := modprobe.ReadDenyFile(f.Name())
	check(err)
	fmt.Println(deny)
	// Output:
	// [sctp dccp snd_*]
}
