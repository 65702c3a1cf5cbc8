// Package preflight answers "will this module load on kernel X" before
// anyone tries: it checks module files against a target kernel given as
// its module tree (BASEDIR/lib/modules/RELEASE, as depmod -b and
// modinfo -b take it) and, optionally, the Module.symvers its build wrote
// (Debian ships it in linux-headers-RELEASE).
//
// The checks are the kernel's own, in the order its load_module makes
// them (kernel/module/main.c and version.c, 6.1 and 6.12):
//
//   - the signature against given certificates (module_sig_check), when
//     Options.Certificates is set: the answer for a kernel that enforces
//     signatures (ErrSignature);
//   - the size of .gnu.linkonce.this_module against the target's struct
//     module, read from the target's own modules, on kernels from 6.4
//     (elf_validity_cache_copy on 6.12: "section size must match the
//     kernel's built struct module size") (ErrModuleStruct); 6.1 does not
//     check it first (Debian 13's modules on Debian 12's kernel are
//     refused for module_layout's CRC, in the VM), and a struct module of
//     another size comes with another module_layout CRC;
//   - module_layout's CRC (check_modstruct_version) (ErrCRC);
//   - vermagic (check_modinfo, same_magic): compared whole, or without
//     its first word (the release) when the module has a __versions
//     section (ErrVermagic);
//   - every symbol the module imports (simplify_symbols): one nobody
//     provides is ErrUnknownSymbol, with depmod -e's rules (a weak symbol
//     may stay unresolved; the loader provides __this_module); one whose
//     __versions CRC differs from its exporter's is ErrCRC ("disagrees
//     about version of symbol"). A symbol missing from __versions is
//     accepted, as the kernel accepts it (with a warning). With
//     Module.symvers, a GPL-only export is unknown to a module whose
//     license is not GPL-compatible (ErrUnknownSymbol), and one in a
//     namespace the module does not import (import_ns) is ErrNamespace;
//   - the modules it depends on (its depends= and the owners of its
//     symbols) are in the target, are modules being checked, or are built
//     in (ErrMissingDependency); a module being checked that one depends
//     on must load itself (ErrDependency).
//
// A module without vermagic or __versions loads on a kernel built with
// CONFIG_MODULE_FORCE_LOAD, which taints it (read from the target's
// BASEDIR/boot/config-RELEASE; without it the module is refused).
//
// Where the exporters' CRCs come from: a kernel symbol's from
// Module.symvers when it is given; without it, from the __versions
// sections of the target's own modules (which record the CRC of every
// kernel symbol they import: module_layout and most of the kernel's
// exports), and a module's export from that module's __kcrctab. Kernel
// symbols no target module imports cannot be checked without
// Module.symvers: they are listed in Verdict.Unchecked, not as problems.
// Which symbols the kernel exports at all comes from Module.symvers, else
// from BASEDIR/boot/System.map-RELEASE; with neither, an import no one is
// known to provide is Unchecked too.
//
// Not checked: GPL-only exports and namespaces without Module.symvers,
// nor those of the exports of the modules checked (only the target's
// Module.symvers lists them), and anything a module's init function does.
// Without certificates the signature is not read: a module whose
// signature does not verify against a key the kernel holds is refused even
// by a kernel that does not enforce signatures.
//
// Check reads the whole target tree (every module, decompressed) to
// resolve the candidates' symbols in it. A program that checks several
// sets of modules against one target opens it once (Open) and checks
// each set with the Checker, which reads the target's modules at its
// first Check only; Options.Cache shares that reading between Checkers
// of one tree (with and without Module.symvers, say).
package preflight
