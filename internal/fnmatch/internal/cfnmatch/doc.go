// Package cfnmatch is a test-only reference for package fnmatch: it calls the
// C library's fnmatch(3) with flags 0 so that the pure-Go implementation can
// be compared with glibc.
//
// The reference is compiled only with cgo against glibc (see cfnmatch.go);
// otherwise the stub in stub.go reports it as unavailable, and tests decide
// whether that is fatal.
//
// Two pieces of process state influence glibc's fnmatch and are pinned down
// by a C constructor when the program is loaded, before any fnmatch call: the locale is set to "C" (kmod never calls
// setlocale, so modprobe always runs fnmatch in the C locale), and the
// POSIXLY_CORRECT environment variable is removed from the C environment,
// because glibc reads it once, on the first fnmatch call, and when it is set
// treats '^' at the start of a bracket expression as an ordinary character
// instead of a negation.
package cfnmatch
