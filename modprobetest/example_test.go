package modprobetest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/modprobetest"
)

// A test loads a module and its dependency into a fake kernel, checks
// what the kernel saw, and scripts a failure.
func Example() {
	dir, _ := os.MkdirTemp("", "modprobetest")
	defer os.RemoveAll(dir)

	_, err := modprobetest.WriteTree(dir, "6.1.0-test",
		modprobetest.Module{Name: "base"},
		modprobetest.Module{Name: "net_drv", Depends: []string{"base"}, Params: []string{"queues:int"}, Aliases: []string{"pci:v00001234d*"}},
		modprobetest.Module{Name: "broken", Path: "kernel/broken.ko.xz"},
	)
	if err != nil {
		panic(err)
	}
	k, err := modprobetest.New(dir + "/fake")
	if err != nil {
		panic(err)
	}
	l, err := modprobe.Open(k.Options(modprobe.Options{RootDir: dir, KernelRelease: "6.1.0-test", ConfigPaths: []string{}}))
	if err != nil {
		panic(err)
	}
	defer l.Close()

	ctx := context.Background()
	if err := l.Load(ctx, "pci:v00001234d00005678", "queues=4"); err != nil {
		panic(err)
	}
	for _, in := range k.Inserts() {
		fmt.Printf("insert %s %q from file: %v\n", in.Module, in.Params, in.File != "")
	}
	st, _ := l.State("base")
	fmt.Println("base:", st.State, "refcnt", st.Refcnt, "holders", st.Holders)

	k.FailInsert("broken", syscall.ENOEXEC)
	err = l.Load(ctx, "broken")
	fmt.Println("broken:", errors.Is(err, syscall.ENOEXEC))
	// Output:
	// insert base "" from file: true
	// insert net_drv "queues=4" from file: true
	// base: live refcnt 1 holders [net_drv]
	// broken: true
}

// ExampleErrors splits LoadAll's error into one error per failing module:
// the dependency that failed, not the module that needed it.
func ExampleErrors() {
	dir, _ := os.MkdirTemp("", "modprobetest")
	defer os.RemoveAll(dir)
	_, err := modprobetest.WriteTree(dir, "6.1.0-test",
		modprobetest.Module{Name: "base"},
		modprobetest.Module{Name: "needs_base", Depends: []string{"base"}},
		modprobetest.Module{Name: "fine"},
	)
	if err != nil {
		panic(err)
	}
	k, err := modprobetest.New(dir + "/fake")
	if err != nil {
		panic(err)
	}
	k.FailInsert("base", syscall.EPERM)
	l, err := modprobe.Open(k.Options(modprobe.Options{RootDir: dir, KernelRelease: "6.1.0-test", ConfigPaths: []string{}}))
	if err != nil {
		panic(err)
	}
	defer l.Close()

	err = l.LoadAll(context.Background(), "needs_base", "fine", "missing")
	for _, e := range modprobetest.Errors(err) {
		var me *modprobe.ModuleError
		errors.As(e, &me)
		fmt.Printf("%s: %v\n", me.Module, errors.Is(e, syscall.EPERM))
	}
	fmt.Println("fine loaded:", k.Inserts()[len(k.Inserts())-1].Module)
	// Output:
	// base: true
	// missing: false
	// fine loaded: fine
}
