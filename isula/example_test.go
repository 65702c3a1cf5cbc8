package isula_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/isula"
)

// KERNEL_MODULES as iSulad reads it, except that a name which modprobe
// would take as an option is refused.
func ExampleParseEnv() {
	env := []string{"PATH=/usr/bin", "KERNEL_MODULES=ip_vs,,ip_vs_wrr", "KERNEL_MODULES=ignored"}
	got, err := isula.ParseEnv(env)
	fmt.Println(got.Requests, got.Found, err)

	got, _ = isula.ParseEnv([]string{"KERNEL_MODULES=a,b=c"})
	fmt.Printf("%v, dropped %q\n", got.Requests, got.Dropped)

	_, err = isula.ParseEnv([]string{"KERNEL_MODULES=-r,ip_vs"})
	fmt.Println(errors.Is(err, modprobe.ErrBadName), err)
	// Output:
	// [ip_vs ip_vs_wrr] true <nil>
	// [a b], dropped "c"
	// true process.env[0] KERNEL_MODULES: item "-r": invalid module name: starts with '-'
}

// A prestart hook loads what the container asks for as modprobe -a does:
// every module is tried, and the error lists each failure.
func ExampleLoad() {
	l, err := modprobe.Open(modprobe.Options{})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	got, err := isula.ParseEnv([]string{"KERNEL_MODULES=ip_vs,ip_vs_wrr"})
	if err != nil {
		panic(err)
	}
	if err := isula.Load(context.Background(), l, got.Requests, modprobe.LoadOptions{}); err != nil {
		fmt.Println("container start fails:", err)
	}
}
