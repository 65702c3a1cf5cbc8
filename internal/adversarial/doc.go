// Package adversarial holds the hostile-input table of the security pass,
// TestAdversarialInputs, and nothing else: it has no code of its own, only
// tests, one file per category of input (moddep_test.go, name_test.go,
// config_test.go, index_test.go, compress_test.go, elf_test.go,
// image_test.go, adapter_test.go, shell_test.go, worker_test.go,
// input_test.go, depmod_test.go), and harness_test.go, which runs the
// table under its bounds. The cases use only the packages' public APIs
// (the root package, depmod, kata, isula, kmodimage, modprobetest) and the
// internal packages whose formats they corrupt (index, elfmod, testmod).
// Run it with
//
//	go test -run TestAdversarialInputs ./internal/adversarial
//
// or one category with -run 'TestAdversarialInputs/moddep/'.
//
// TestAdversarialInputs feeds every input gokmod reads that someone other
// than the caller may have written in a hostile form, each case with the
// error it must give, what may and may not reach the (fake) kernel or the
// file system, and a memory and time bound.
//
// # Threat model, by category
//
//   - moddep: modules.dep entries that climb out of the module directory
//     ("../../../x.ko"), absolute paths, symbolic-link loops, FIFOs, NUL
//     bytes, and 10 MB lines. The module tree is the administrator's (see
//     SECURITY.md), so a path that names an existing file is followed
//     exactly as libkmod follows it (joined to the module directory without
//     cleaning; absolute paths kept); what is asserted is that nothing else
//     reaches the kernel, that a bad dependency is logged and dropped as
//     libkmod drops it, and that nothing hangs or explodes.
//   - name: names and parameters from the caller (the library's typed API)
//     that a modprobe command line would read as options ("-r",
//     "--force"), paths, NUL bytes, newlines, 10 MB values. They must be
//     refused with ErrBadName or ErrBadParams before anything is resolved,
//     inserted or removed.
//   - config: modprobe.d files with 10 MB lines, NUL bytes, a FIFO, a
//     character device that never ends (/dev/zero), softdep chains 10,000
//     deep, softdep cycles, and aliases fanning out to thousands of
//     modules. Bad lines are logged and skipped as kmod skips them, and
//     planning stays linear in the input.
//   - index: kmod's .bin indexes truncated at every eighth of their
//     length, bit-flipped at random offsets (seeded, so failures
//     reproduce), crafted with child pointers that form cycles, and
//     replaced by a FIFO or a directory. Lookup and Plan return an error
//     or kmod's degraded result (fewer modules), never panic or loop.
//   - compress: xz, zstd and gzip bombs (a few KiB that expand to 64 MiB of
//     zeros) against MaxModuleSize = 1 MiB, as the module itself and as a
//     dependency, and a zstd frame declaring a 2 GiB window: ErrTooLarge
//     or a format error, and nothing inserted.
//   - elf: real module images (internal/testmod) with bogus section
//     offsets, counts, sizes and string-table indexes: the fake kernel
//     refuses them (ENOEXEC), elfmod returns errors, forced loads do not
//     write outside the image, and depmod indexes around them.
//   - image: hostile kmod images through kmodimage.Extract (traversal,
//     symlink escape, device node, a header claiming 8 GiB, symlink loops
//     with indexing): the entry is refused and nothing is written.
//   - adapter: kata and isula input from a container's author or user:
//     "-r", "-d DIR", unbalanced quotes, NUL bytes, 10 MB values.
//   - depmod: depmod.Run over a hostile tree: symlink loops, FIFOs named
//     *.ko, a 10 MB modules.order line, bogus ELF files. It must finish
//     promptly with kmod's messages and write only its index files.
//   - shell: a container's parameters reaching an install command's
//     $CMDLINE_OPTS: each reaches the command as one word of data.
//   - worker: KMM worker configurations whose paths would leave the shared
//     directory: refused before anything changes.
//   - input: the other inputs a library caller hands over by path (KMM's
//     configuration, the OCI hook's state, depmod.d, System.map,
//     Module.symvers) as a FIFO, /dev/zero or over their bound.
//
// # Bounds
//
// Each case's act runs in its own goroutine, with panics recovered and
// reported, under a watchdog: 20 s of wall clock (1 or 2 s for the cases
// that could block on a FIFO or walk a loop), past which the act counts as
// hung and the FIFOs it may wait on are opened to release it. Its CPU time
// (the process's rusage, which a loaded machine does not inflate) must
// stay under 10 s, -race included. Its memory is measured around the act,
// after runtime.GC(): the cumulative allocation (TotalAlloc delta, an upper
// bound on the extra heap the act could have live at any moment, and
// deterministic) and the peak heap growth (heap objects sampled every
// millisecond). The asserted bound is on the cumulative allocation:
//
//   - 64 MiB for every case whose hostile input is small or capped by a
//     limit (names, bombs, ELF files, indexes, images, trees, chains and
//     fan-outs, whatever their depth or width);
//   - 16 MiB + 12 bytes per input byte (136 MiB for 10 MiB) for the cases
//     that feed n bytes of hostile text (10 MB lines and values; the 64
//     MiB a configuration file is cut at for /dev/zero): the file is read,
//     split, indexed and quoted in a message, a few copies each, but the
//     cost must stay proportional to it.
//
// The cases marked pilot (the 10,000-deep softdep chains, the fan-outs to
// thousands of modules, and the 10 MB inputs that become many objects)
// first run at 1/16 and 1/8 of their size: when the allocation grows
// faster than linearly (the deterministic measure: CPU time varies between
// runs and is only projected against its generous limit), or its linear
// projection (or that of the CPU time) already breaks the bound, the case fails without the full run, which
// would otherwise take gigabytes and minutes under -race. Once linear, they
// run at full size like the others.
//
// Post-conditions: the modules the fake kernel inserted successfully, in
// order (nothing, for most cases); no delete_module call at all; and no
// change anywhere under the case's root directory (module tree,
// modprobe.d, a canary directory "outside") except what the case allows
// (depmod's index files, Extract's destination).
package adversarial
