// Package guest holds tests that run inside a VM booted from Debian's
// kernel, as /init (PID 1) of an initramfs; internal/vmtest's TestGuest
// builds and boots them. Every test file here starts with
// "//go:build vmguest", so a plain "go test ./..." never compiles them.
//
// To add a test, add a Test function to a file with that build tag. The
// image holds the modules vmtest.Modules lists (with their dependencies,
// indexed by depmod under /lib/modules/$(uname -r)), Debian's kmod as
// /sbin/modprobe and friends, busybox under /bin and the gokmod binary as
// /bin/gokmod. Tests run as root on a fresh kernel; a test that loads a
// module should unload it in a Cleanup so the next test starts clean.
package guest
