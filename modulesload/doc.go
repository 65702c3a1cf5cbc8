// Package modulesload loads the boot-time module lists that
// systemd-modules-load reads: the modules_load= (and, in an initrd,
// rd.modules_load=) lists of the kernel command line, then every
// modules-load.d/*.conf file, a file in an earlier directory overriding
// one of the same name in a later one, each non-comment line a module
// name or alias. Names are loaded in parallel, dependencies first, with
// the blacklist applied as systemd applies it; a name found nowhere, or a
// module whose init answers ENODEV, is reported but is no failure, as in
// systemd. A minimal guest without systemd (a Kata VM, an initramfs) gets
// the same boot-time behaviour from one call.
package modulesload
