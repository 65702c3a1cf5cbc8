// Command uroot loads the modules named on its command line through
// u-root's kmodule package.
package main

import (
	"fmt"
	"os"

	"github.com/u-root/u-root/pkg/kmodule"
)

func main() {
	for _, name := range os.Args[1:] {
		if err := kmodule.Probe(name, ""); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
