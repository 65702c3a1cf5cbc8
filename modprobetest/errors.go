package modprobetest

import (
	"errors"

	"github.com/gokmod/modprobe"
)

// Errors splits an error that joins several (LoadAll's, or errors.Join's)
// into its branches, each as its innermost *modprobe.ModuleError (a
// failing dependency's, rather than the requested module's), or as the
// branch itself when it holds none. It returns nil for nil.
func Errors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Errors(e)...)
		}
		return out
	}
	if me, ok := err.(*modprobe.ModuleError); ok {
		var inner *modprobe.ModuleError
		if errors.As(me.Err, &inner) {
			return Errors(me.Err)
		}
	}
	return []error{err}
}
