// Package closure computes what an initramfs or image builder has to ship
// for a set of module names: every module file a modprobe of each name
// would insert (the module, its modules.dep dependencies, its softdeps
// with theirs), the weak dependencies kmod never loads but an image
// needs (weakdep directives and modules.weakdep), and the firmware files
// those modules name with firmware= that exist under the kernel's
// firmware search path. Builtin modules need no file and are listed
// apart.
//
// dracut and mkosi compute this list with their own resolvers; here it
// comes from the Loader, so that aliases, blacklists, softdeps and install
// commands resolve exactly as modprobe resolves them for the same tree
// and configuration (modprobe -D shows the same module files).
//
// A module that modprobe would replace with an install command is still
// shipped, with its dependencies, and the command is reported: the
// command usually loads the module itself, and the builder decides
// whether the programs it runs belong in the image.
package closure
