//go:build !cgo

package cfnmatch

// Available reports whether the reference was compiled in; without cgo it
// never is.
func Available() bool { return false }

// Reason explains why the reference is unavailable.
func Reason() string {
	return "cfnmatch: built without cgo (CGO_ENABLED=0 or no C compiler), so glibc's fnmatch cannot be called"
}

// Version returns "" because no C library is linked.
func Version() string { return "" }

// Match panics: the reference is unavailable without cgo.
func Match(pattern, name string) bool { panic(Reason()) }
