package modprobe

import "strings"

// Request is one module to load and the parameters to give it: what a
// consumer's input comes down to once an adapter has parsed it (package
// kata for Kata Containers' kernel_modules, package isula for iSulad's
// KERNEL_MODULES). Load it with LoadWith(ctx, r.Name, r.Params, opts).
type Request struct {
	// Name is a module name or an alias, as modprobe takes it.
	Name string
	// Params are the module's parameters, "key=value" each, in order.
	Params []string
}

// String returns the request on one line, as gokmod's adapters print it
// with -n: the name, then each parameter, separated by single spaces.
func (r Request) String() string {
	if len(r.Params) == 0 {
		return r.Name
	}
	return r.Name + " " + strings.Join(r.Params, " ")
}
