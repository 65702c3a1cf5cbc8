package preflight_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/gokmod/modprobe/preflight"
)

// Will the modules of an out-of-tree driver load on the kernel an upgrade
// brings? The target is the new kernel's module tree and the
// Module.symvers of its headers package.
func ExampleCheck() {
	rep, err := preflight.Check(context.Background(), preflight.Options{
		Target: preflight.Target{
			BaseDir: "/",
			Release: "6.12.118+deb13-amd64",
			Symvers: "/usr/src/linux-headers-6.12.118+deb13-amd64/Module.symvers",
		},
	}, "/opt/lib/modules/mydriver")
	if err != nil {
		fmt.Println("cannot tell:", err)
		return
	}
	for _, m := range rep.Missing {
		fmt.Println("note:", m)
	}
	for _, v := range rep.Verdicts {
		for _, p := range v.Problems {
			fmt.Println(p) // "FILE: disagrees about version of symbol: SYMBOL (...)"
			if errors.Is(p, preflight.ErrCRC) {
				fmt.Println("  rebuild against the new kernel's headers")
			}
		}
	}
}
