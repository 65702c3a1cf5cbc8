// Package vmtest boots Debian's kernel under qemu with an initramfs built
// on the fly, for the tests that load real modules: the host's own kernel
// cannot. It never uses KVM; qemu runs with multi-threaded TCG.
//
// # Host side
//
// TestGuest (vm_test.go) is the one host test. It builds the guest tests
// (package internal/vmtest/guest, build tag vmguest) with BuildTest and
// gokmod with BuildGokmod, extracts the ELF kernel with BootKernel (a
// compressed kernel decompresses itself for seconds under TCG), builds an
// Image and boots it with Run. The parts:
//
//   - CPIOWriter writes the newc cpio archives the kernel unpacks.
//   - Image lays out an initramfs: the modules Modules lists with their
//     ModuleClosure, indexed by the host's depmod; Debian's kmod with its
//     libraries; busybox-static; Init as /init; and extra Files.
//   - Run starts qemu-system-x86_64, streams the serial console and reads
//     the guest's status from the ExitMarker line.
//
// RequireVM fails a test when CI is "true" and the host lacks qemu,
// busybox-static or kmod, and skips it otherwise.
//
// # Guest side
//
// A guest test binary's TestMain calls GuestMain, which turns PID 1 into a
// minimal init, runs the tests and reports their status with ExitMarker.
// Its flags come from GuestArgsFile (Image.Args) and from the words after
// "--" on the kernel command line (Machine.Cmdline). Guest tests call
// RequireGuest so that, built on a host by mistake, they skip.
//
// # Security
//
// Everything here runs as the invoking user on the host and as root in a
// throwaway VM. Images hold copies of host binaries (kmod, its libraries,
// busybox) and of the kernel tree's modules; nothing is downloaded.
package vmtest
