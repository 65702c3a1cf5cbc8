package preflight

import (
	"crypto/x509"

	"github.com/gokmod/modprobe/depmod"
)

// Options say what to check the modules against.
type Options struct {
	// Target is the kernel the modules are to load on.
	Target Target
	// Certificates, if set, are the keys the target trusts: a module
	// whose signature does not verify against them is refused, as a
	// kernel enforcing signatures refuses it. Nil skips the check.
	Certificates []*x509.Certificate
	// MaxModuleSize bounds a decompressed module;
	// 0 is modprobe.DefaultMaxModuleSize.
	MaxModuleSize int64
	// Jobs is how many modules are read at once; 0 is
	// runtime.GOMAXPROCS(0).
	Jobs int
	// Cache, if set, keeps what is read of the target's modules (and the
	// candidates) for every Check and Checker given it: checks against
	// one tree, whatever their Symvers or SystemMap, then read each
	// unchanged file once. Nil gives each Checker a cache of its own.
	Cache *depmod.ModuleCache
}

// Report is the answer for every module checked.
type Report struct {
	// Verdicts are the modules, in the order they were given (a
	// directory's modules in lexical order).
	Verdicts []Verdict
	// Missing says which of the target's facts were not available, and
	// what went unchecked for want of them.
	Missing []string
}

// Verdict is the answer for one module.
type Verdict struct {
	// Module is the file; Name the module name.
	Module, Name string
	// Problems are the reasons it will not load, in the order the
	// kernel meets them (its dependencies' first, as modprobe loads
	// those first); none when it loads.
	Problems []*Problem
	// Deps are the module files to load before it, in the order to
	// load them (insmod order): its dependencies, from the modules
	// checked or the target's tree.
	Deps []string
	// Unchecked are the symbols whose presence or CRC the target's
	// facts could not settle (see Report.Missing).
	Unchecked []string
	// Tainted says why the kernel will load it only by forcing it (a
	// module without vermagic or __versions), or "".
	Tainted string
}

// Loads reports whether the module will load: it has no problem.
func (v *Verdict) Loads() bool { return len(v.Problems) == 0 }

// Problems returns every module's problems, module by module.
func (r *Report) Problems() []*Problem {
	var out []*Problem
	for i := range r.Verdicts {
		out = append(out, r.Verdicts[i].Problems...)
	}
	return out
}
