package closure_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/closure"
	"github.com/gokmod/modprobe/modprobetest"
)

// Compute lists what an initramfs needs for a set of names: here an
// alias, resolved as modprobe resolves it, to a module with a
// dependency.
func ExampleCompute() {
	root, err := os.MkdirTemp("", "closure-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(root)
	if _, err := modprobetest.WriteTree(root, "6.12.0",
		modprobetest.Module{Name: "nf_conntrack"},
		modprobetest.Module{Name: "ip_vs", Depends: []string{"nf_conntrack"}, Aliases: []string{"ipvs"}},
	); err != nil {
		panic(err)
	}
	l, err := modprobe.Open(modprobe.Options{RootDir: root, KernelRelease: "6.12.0", ConfigPaths: []string{}})
	if err != nil {
		panic(err)
	}
	defer l.Close()

	res, err := closure.Compute(context.Background(), l, []string{"ipvs"}, closure.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range res.Files {
		fmt.Println(f.Reason, strings.TrimPrefix(f.Path, root))
	}
	// Output:
	// dependency /lib/modules/6.12.0/kernel/nf_conntrack.ko
	// requested /lib/modules/6.12.0/kernel/ip_vs.ko
}
