// Package guest holds tests that run inside a VM booted from Debian's
// kernel, as /init (PID 1) of an initramfs; internal/vmtest's TestGuest
// builds them and boots them on Debian 12 and on Debian 13. Every test
// file here starts with "//go:build vmguest", so a plain "go test ./..."
// never compiles them.
//
// To add a test, add a Test function to a file with that build tag. The
// image holds the modules vmtest.Modules lists (with their dependencies,
// indexed by depmod under /lib/modules/$(uname -r), which is below
// /usr/lib on Debian 13), the distribution's kmod as /sbin/modprobe and
// friends (kmod 30 on Debian 12, 34.2 on Debian 13: kmodVersion tells),
// busybox under /bin and the gokmod binary as /bin/gokmod, which follows
// GOKMOD_COMPAT (kmod30 or kmod34) as TestGuest sets it. Module files are
// .ko on Debian 12 and .ko.xz on Debian 13 (modulePath, treeSuffix).
// Tests run as root on a fresh kernel; a test that loads a module should
// unload it in a Cleanup so the next test starts clean. The differential
// tests (compareSteps) run each command line through kmod and gokmod and
// compare output, exit status, loaded modules and kernel log lines.
package guest
