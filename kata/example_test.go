package kata_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/kata"
)

// The list from configuration.toml, with the annotation replacing it as
// Kata's Go runtime does, or appended as runtime-rs does.
func ExampleMerge() {
	config, err := kata.ParseConfig([]byte(`
[agent.kata]
kernel_modules = ["e1000e InterruptThrottleRate=3000,3000,3000 EEE=1", "i915 enable_ppgtt=0"]
`), "configuration.toml")
	if err != nil {
		panic(err)
	}
	annotations := map[string]string{kata.Annotation: `e1000e EEE=1; vfio_pci ids="10de:1db6"`}
	for _, mode := range []kata.Mode{kata.Replace, kata.Append} {
		reqs, err := kata.Merge(mode, config, annotations)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%v:\n", mode)
		for _, r := range reqs {
			fmt.Println(" ", r)
		}
	}
	// Output:
	// replace:
	//   e1000e EEE=1
	//   vfio_pci ids="10de:1db6"
	// append:
	//   e1000e InterruptThrottleRate=3000,3000,3000 EEE=1
	//   i915 enable_ppgtt=0
	//   e1000e EEE=1
	//   vfio_pci ids="10de:1db6"
}

// Quotes group words and stay for the kernel; names that would be
// modprobe options are refused.
func ExampleParseElement() {
	req, _, _ := kata.ParseElement(`  dummy   label="a b"  numdummies=2 `)
	fmt.Printf("%q %q\n", req.Name, req.Params)

	_, _, err := kata.ParseElement("-r ip_vs")
	fmt.Println(errors.Is(err, modprobe.ErrBadName), err)

	_, _, err = kata.ParseElement(`m p="a b`)
	fmt.Println(err)
	// Output:
	// "dummy" ["label=\"a b\"" "numdummies=2"]
	// true invalid module name: module name "-r" starts with '-'
	// unbalanced double quote
}

// A Go guest agent loads the sandbox's modules in order, as Kata's agent
// does, stopping at the first failure.
func ExampleLoad() {
	l, err := modprobe.Open(modprobe.Options{})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	reqs, err := kata.ParseAnnotation("e1000e EEE=1; i915")
	if err != nil {
		panic(err)
	}
	if err := kata.Load(context.Background(), l, reqs, modprobe.LoadOptions{}); err != nil {
		fmt.Println("CreateSandbox fails:", err)
	}
}
