//go:build cgo

package cfnmatch

/*
#include <features.h>
#include <fnmatch.h>
#include <locale.h>
#include <stdlib.h>

#ifdef __GLIBC__
#include <gnu/libc-version.h>
static const char *ref_libc_version(void) { return gnu_get_libc_version(); }
#else
static const char *ref_libc_version(void) { return ""; }
#endif

// ref_init runs once, when the program is loaded, before any fnmatch call.
__attribute__((constructor)) static void ref_init(void) {
	setlocale(LC_ALL, "C");
	unsetenv("POSIXLY_CORRECT");
}

// ref_fnmatch expects NUL-terminated buffers.
static int ref_fnmatch(const char *pattern, const char *name) {
	return fnmatch(pattern, name, 0);
}
*/
import "C"

import "unsafe"

// Available reports whether the reference was compiled in and is backed by
// glibc. When it returns false, Reason says why.
func Available() bool { return Version() != "" }

// Reason explains why the reference is unavailable; it is empty when
// Available reports true.
func Reason() string {
	if Available() {
		return ""
	}
	return "cfnmatch: the C library is not glibc"
}

// Version returns glibc's version string (for example "2.36"), or "" when the
// C library is not glibc.
func Version() string { return C.GoString(C.ref_libc_version()) }

// Match reports whether fnmatch(pattern, name, 0) returns 0 in the C locale.
// Like any C caller, glibc sees each string only up to its first NUL byte.
// It panics if the reference is unavailable.
func Match(pattern, name string) bool {
	if !Available() {
		panic(Reason())
	}
	buf := make([]byte, len(pattern)+len(name)+2)
	copy(buf, pattern)
	copy(buf[len(pattern)+1:], name)
	p := (*C.char)(unsafe.Pointer(&buf[0]))
	n := (*C.char)(unsafe.Pointer(&buf[len(pattern)+1]))
	return C.ref_fnmatch(p, n) == 0
}
