// Command gokmod loads the modules named on its command line through
// gokmod's root package, the only package it imports from gokmod.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/gokmod/modprobe"
)

func main() {
	if len(os.Args) < 2 {
		return
	}
	l, err := modprobe.Open(modprobe.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer l.Close()
	if err := l.LoadAll(context.Background(), os.Args[1:]...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
