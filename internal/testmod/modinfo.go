package testmod

import "strings"

// This file holds helpers that build the raw "key=value" strings stored in
// Module.ModInfo. They only format; nothing is validated, so tests can also
// build deliberately odd entries.

// KV returns "key=value".
func KV(key, value string) string { return key + "=" + value }

// Alias returns an "alias=" entry (MODULE_ALIAS, MODULE_DEVICE_TABLE).
// Aliases may contain fnmatch wildcards such as "pci:v00008086d*sv*".
func Alias(alias string) string { return KV("alias", alias) }

// Aliases returns one "alias=" entry per argument.
func Aliases(aliases ...string) []string {
	out := make([]string, len(aliases))
	for i, a := range aliases {
		out[i] = Alias(a)
	}
	return out
}

// Depends returns the "depends=" entry modpost writes: the comma-separated
// names of the modules this one needs, empty when it needs none. kmod's
// depmod ignores it (it computes dependencies from symbols); the kernel
// and modinfo show it.
func Depends(modules ...string) string { return KV("depends", strings.Join(modules, ",")) }

// Softdep returns a "softdep=" entry (MODULE_SOFTDEP), e.g.
// Softdep("pre: crc32c post: foo"). depmod copies it to modules.softdep.
func Softdep(spec string) string { return KV("softdep", spec) }

// Weakdep returns a "weakdep=" entry (MODULE_WEAKDEP, Linux 6.11). kmod 30
// predates it and ignores the key; kmod 33 and later write modules.weakdep.
func Weakdep(module string) string { return KV("weakdep", module) }

// Vermagic returns a "vermagic=" entry with the given value.
func Vermagic(vermagic string) string { return KV("vermagic", vermagic) }

// DefaultVermagic returns the vermagic string of a typical x86-64
// distribution kernel for release, e.g.
// "6.1.0-13-amd64 SMP preempt mod_unload modversions " (note the
// trailing space, which the kernel's VERMAGIC_STRING has).
func DefaultVermagic(release string) string {
	return release + " SMP preempt mod_unload modversions "
}

// License returns a "license=" entry (MODULE_LICENSE).
func License(license string) string { return KV("license", license) }

// Description returns a "description=" entry (MODULE_DESCRIPTION).
func Description(text string) string { return KV("description", text) }

// Author returns an "author=" entry (MODULE_AUTHOR).
func Author(author string) string { return KV("author", author) }

// Parm returns a "parm=name:description" entry (MODULE_PARM_DESC).
func Parm(name, description string) string { return KV("parm", name+":"+description) }

// ParmType returns a "parmtype=name:type" entry (module_param), e.g.
// ParmType("debug", "int").
func ParmType(name, typ string) string { return KV("parmtype", name+":"+typ) }

// SrcVersion returns a "srcversion=" entry (modpost's MD4 of the sources,
// 23 upper-case hex digits in real modules).
func SrcVersion(v string) string { return KV("srcversion", v) }

// ModuleVersion returns a "version=" entry (MODULE_VERSION).
func ModuleVersion(v string) string { return KV("version", v) }

// Intree returns "intree=Y", which kbuild adds to in-tree modules.
func Intree() string { return KV("intree", "Y") }

// Retpoline returns "retpoline=Y", which kbuild adds when built with
// retpolines.
func Retpoline() string { return KV("retpoline", "Y") }

// NameInfo returns the "name=" entry kbuild adds (KBUILD_MODNAME).
func NameInfo(name string) string { return KV("name", name) }

// ImportNS returns an "import_ns=" entry (MODULE_IMPORT_NS).
func ImportNS(namespace string) string { return KV("import_ns", namespace) }

// StandardModInfo returns the entries kbuild and modpost add to every
// in-tree module of a 6.x x86-64 kernel, in the order they appear at the
// end of such a module's .modinfo: "depends=" (built from depends, module
// names, possibly none), "retpoline=Y", "intree=Y", "name=" and
// "vermagic=". name is KBUILD_MODNAME (underscores) and vermagic the full
// vermagic value (see DefaultVermagic). srcversion is not included.
func StandardModInfo(name, vermagic string, depends ...string) []string {
	return []string{
		Depends(depends...),
		Retpoline(),
		Intree(),
		NameInfo(name),
		Vermagic(vermagic),
	}
}
