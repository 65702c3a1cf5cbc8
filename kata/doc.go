// Package kata turns Kata Containers' kernel module lists into load
// requests, and loads them as Kata's agent does.
//
// Kata takes the modules to load in a sandbox from two places: the
// kernel_modules array of [agent.kata] in configuration.toml, and the OCI
// annotation io.katacontainers.config.agent.kernel_modules, whose value
// holds the same elements separated by ";". In each element the first word
// is the module (a name or an alias) and the other words are its
// parameters:
//
//	kernel_modules = ["e1000e InterruptThrottleRate=3000,3000,3000 EEE=1", "i915 enable_ppgtt=0"]
//	io.katacontainers.config.agent.kernel_modules: "e1000e EEE=1; i915"
//
// # One grammar for both runtimes
//
// Kata's two runtimes read these elements differently: the Go runtime
// splits on any whitespace and ignores quotes, so p="a b" becomes two
// parameters; runtime-rs splits on single spaces without trimming, so the
// documented "e1000e EEE=1; i915" gives an element " i915" with an empty
// module name, which fails the sandbox. ParseElement reads both the same
// way, the way a user means them: elements are trimmed and empty ones
// skipped, any whitespace separates words, and double quotes group words
// and stay in the parameter, so that the kernel sees p="a b" as one
// parameter (the kernel honours double quotes only). An unbalanced quote
// is an error.
//
// Kata validates nothing; this package refuses what can only be an
// attack or a mistake: a module name that starts with "-" (the guest's
// modprobe would take "-r" as a removal, or "-d DIR" as a module
// directory chosen by the container), holds "/" or a quote, and a
// parameter that starts with "-" or holds a newline or NUL byte. These
// errors wrap modprobe.ErrBadName and modprobe.ErrBadParams.
//
// # Merging the annotation
//
// The Go runtime replaces the configuration's list with the annotation's
// when the annotation is present (Replace); runtime-rs appends the
// annotation's elements to it (Append). Merge does either.
//
// # Loading
//
// Load loads the requests in order and stops at the first failure, as the
// agent's CreateSandbox does; modules already inserted stay loaded. A
// module that is already loaded or built in is success, and its requested
// parameters are not applied (kmod's rule).
//
// Sandboxes under a policy (confidential containers) refuse any
// kernel_modules at CreateSandbox; that check is Kata's, not this
// package's.
package kata
