// Package vmtest boots Debian's kernels under qemu with an initramfs built
// on the fly, for the tests that load real modules: the host's own kernel
// cannot. It never uses KVM; qemu runs with multi-threaded TCG.
//
// # Host side
//
// TestGuest (vm_test.go) is the one host test. It builds the guest tests
// (package internal/vmtest/guest, build tag vmguest) with BuildTest,
// gokmod and its worker with BuildTools, and cmd/libmodprobe (a program
// loading through the library with its defaults, the benchmarks' library
// contender) with BuildLibmodprobe, and boots them on two
// distributions at once, each a subtest: Debian 12 (kernel 6.1, plain
// .ko, the host's kmod 30, GOKMOD_COMPAT=kmod30) and Debian 13 (kernel 6.12, signed .ko.xz that the
// kernel decompresses, a merged-/usr layout, Debian 13's kmod 34.2 with
// its own loader and libraries, GOKMOD_COMPAT=kmod34). For each it
// extracts the ELF kernel with BootKernel (a compressed kernel
// decompresses itself for seconds under TCG), builds an Image and boots it
// with Run. The parts:
//
//   - CPIOWriter writes the newc cpio archives the kernel unpacks.
//   - Image lays out an initramfs: the modules Modules lists with their
//     ModuleClosure, indexed by the distribution's depmod (Depmod); the
//     host's kmod with its libraries, or another system's (KmodRoot,
//     ELFDependencies); busybox-static; Init as /init; and extra Files.
//   - ModuleVariants, RecompressedTree and WeakdepModule make the test
//     inputs: a module in every format, a second tree in a format the
//     kernel cannot decompress, a module declaring a weak dependency.
//   - Run starts qemu-system-x86_64, streams the serial console and reads
//     the guest's status from the ExitMarker line. With Machine.Hotplug
//     it serves qemu's monitor (QMP, Monitor) on a unix socket and adds
//     a device whenever the guest asks for one on the console
//     (RequestDevice prints HotplugMarker and the device's name), so a
//     guest test sees a device arrive while it runs.
//
// Environment variables of TestGuest: GOKMOD_VM_RUN selects guest tests
// (as -run); GOKMOD_VM_BENCH runs guest benchmarks (as -bench), one VM
// after the other, GOKMOD_VM_BENCHTIME iterations each (default 10x);
// GOKMOD_VM_STRACE=1 carries the host's strace into the images for
// BenchmarkSyscalls. GOKMOD_PREFLIGHT_ALL=1 gives the Debian 13 guest's
// TestPreflightVerdicts every Debian 12 module (xz compressed, 3 GB of
// guest memory) instead of its sample (preflight_files_test.go).
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
// busybox, strace when asked), of Debian 13's kmod and libraries that scripts/setup.sh
// fetched, and of the kernel trees' modules; nothing is downloaded.
package vmtest
