// Command pmorjan loads the modules named on its command line through
// pmorjan/kmod.
package main

import (
	"fmt"
	"os"

	"github.com/pmorjan/kmod"
)

func main() {
	if len(os.Args) < 2 {
		return
	}
	k, err := kmod.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, name := range os.Args[1:] {
		if err := k.Load(name, "", 0); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
