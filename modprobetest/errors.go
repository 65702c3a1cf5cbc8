package modprobetest

import "github.com/gokmod/modprobe"

// Errors splits an error that joins several (LoadAll's, or errors.Join's)
// into its branches, each as its innermost *modprobe.ModuleError (a
// failing dependency's, rather than the requested module's). It returns
// nil for nil. It is modprobe.Failures with each failure as an error.
func Errors(err error) []error {
	var out []error
	for _, f := range modprobe.Failures(err) {
		if f.Op == "" && f.Module == "" {
			out = append(out, f.Err) // a branch without a ModuleError, as it was
			continue
		}
		out = append(out, f)
	}
	return out
}
