// Package testmod writes synthetic Linux kernel modules and module trees
// for tests.
//
// The modules are tiny ELF relocatable objects (ET_REL, x86-64 by default)
// that carry exactly what kmod reads from a real module: .modinfo,
// __ksymtab_strings, __kcrctab or absolute __crc_* symbols, __versions,
// and a .symtab whose undefined symbols are the module's imports. They
// also have a .gnu.linkonce.this_module section holding struct module with
// the module name at the kernel's offset, a .text section with stub
// functions and section symbols, so that readelf and debug/elf see an
// ld -r output. They carry no relocations and cannot be loaded into a
// kernel. Debian 12's kmod 30 (depmod, modinfo, modprobe) indexes them
// like real modules; the tests in this package check that against the real
// tools.
//
// What kmod 30 reads, and so what these files must get right:
//
//   - The module name comes from the file name only (up to the first '.',
//     '-' turned into '_'); struct module.name is never read.
//   - Exports: if .symtab holds any symbol named __crc_*, those symbols
//     alone are the exports (their CRC is st_value for SHN_ABS symbols,
//     else the 32-bit word at offset st_value of section st_shndx).
//     Otherwise every non-empty string of __ksymtab_strings counts as an
//     export, namespace names included.
//   - Imports: every symbol with st_shndx == SHN_UNDEF and a name, plus
//     every __versions entry that names no such symbol (module_layout).
//   - .modinfo is split at NULs, runs of NULs being skipped.
//   - Compressed files are recognised by magic number, but depmod only
//     looks at files whose name ends in .ko or in the suffix of a
//     compression it was built with; Debian's kmod 30 lacks zlib, so it
//     ignores .ko.gz files.
//
// Typical use in a test:
//
//	tree := &testmod.Tree{
//		Release: "6.1.0-test",
//		Modules: []testmod.TreeModule{
//			{RelPath: "kernel/a.ko", Module: &testmod.Module{
//				Exports: []string{"a_fn"},
//				ModInfo: append(testmod.StandardModInfo("a", testmod.DefaultVermagic("6.1.0-test")),
//					testmod.Alias("pci:v00008086d*sv*sd*bc*sc*i*"), testmod.License("GPL")),
//			}},
//			{RelPath: "kernel/b-mod.ko.xz", Module: &testmod.Module{
//				Uses:    []string{"a_fn"},
//				ModInfo: []string{testmod.Softdep("pre: a")},
//			}},
//		},
//		Builtin:        []string{"kernel/fs/ext4/ext4.ko"},
//		BuiltinModinfo: []string{"ext4.alias=fs-ext4"},
//	}
//	root := t.TempDir()
//	dir, err := tree.Write(root) // root/lib/modules/6.1.0-test
//	if err != nil {
//		t.Fatal(err)
//	}
//	testmod.RequireTool(t, "depmod") // skips, or fails when CI=true
//	if err := testmod.RunDepmod(ctx, root, tree.Release); err != nil {
//		t.Fatal(err)
//	}
//	// dir/modules.dep now holds "kernel/b-mod.ko.xz: kernel/a.ko".
//
// A single module image is available from Module.ELF, and Compress
// compresses it the way kbuild or a distribution would.
package testmod
