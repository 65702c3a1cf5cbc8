package testmod_test

import (
	"github.com/gokmod/modprobe/internal/testmod"
)

const fixtureRelease = "6.1.0-testmod"

// fixtureVermagic returns the vermagic every fixture module carries.
func fixtureVermagic() string { return testmod.DefaultVermagic(fixtureRelease) }

// modinfoFor returns kbuild's standard entries for name plus extra.
func modinfoFor(name string, extra ...string) []string {
	return append(extra, testmod.StandardModInfo(name, fixtureVermagic())...)
}

// fixtureTree returns the integration tree: a dependency chain
// mod-dash -> mod_c -> mod_b -> mod_a spread over all compressions and
// export styles, a module with a softdep and a weak use, a .ko.gz module
// and a module exporting into a namespace.
func fixtureTree() *testmod.Tree {
	return &testmod.Tree{
		Release: fixtureRelease,
		Modules: []testmod.TreeModule{
			{RelPath: "kernel/x/mod_a.ko", Module: &testmod.Module{
				ModInfo: modinfoFor("mod_a",
					testmod.Alias("mod-a-alias"),
					testmod.Alias("platform:mod-a*"),
					testmod.License("GPL"),
					testmod.Description("chain start"),
					testmod.Author("Test Author <test@example.org>"),
					testmod.Parm("debug", "enable debugging"),
					testmod.ParmType("debug", "int"),
					testmod.SrcVersion("0123456789ABCDEF0123456"),
				),
				Exports:     []string{"a_fn", "a_fn2"},
				ExportStyle: testmod.ExportPlain,
			}},
			{RelPath: "kernel/x/mod_b.ko.xz", Module: &testmod.Module{
				ModInfo: modinfoFor("mod_b",
					testmod.Alias("pci:v00001234d0000ABCDsv*sd*bc*sc*i*"),
					testmod.License("GPL v2"),
				),
				Exports:         []string{"b_fn"},
				ExportStyle:     testmod.ExportKcrctab,
				ExportCRCs:      map[string]uint32{"b_fn": 0xb0b0b0b0},
				ExportNamespace: "TESTMOD_B",
				Uses:            []string{"a_fn"},
				Versions: []testmod.VersionEntry{
					{CRC: 0x13579bdf, Name: "module_layout"},
					{CRC: 0x2468ace0, Name: "a_fn"},
				},
			}},
			{RelPath: "kernel/x/mod_c.ko.zst", Module: &testmod.Module{
				ModInfo: modinfoFor("mod_c",
					testmod.Alias("usb:v1234p5678d*dc*dsc*dp*ic*isc*ip*in*"),
					testmod.ImportNS("TESTMOD_B"),
					testmod.License("GPL"),
				),
				Exports:     []string{"c_fn"},
				ExportStyle: testmod.ExportAbsCRC,
				Uses:        []string{"b_fn"},
			}},
			{RelPath: "kernel/x/mod-dash.ko", Module: &testmod.Module{
				ModInfo: modinfoFor("mod_dash",
					testmod.Alias("of:N*T*Ctestmod,dash"),
					testmod.Alias("acpi*:TEST0001:*"),
					testmod.License("GPL"),
				),
				Uses: []string{"c_fn"},
			}},
			{RelPath: "kernel/y/mod_soft.ko", Module: &testmod.Module{
				ModInfo: modinfoFor("mod_soft",
					testmod.Softdep("pre: mod_ns post: mod-dash"),
					testmod.Weakdep("mod_c"),
					testmod.License("GPL"),
				),
				WeakUses: []string{"a_fn2", "nobody_exports_this"},
			}},
			{RelPath: "kernel/y/mod_gz.ko.gz", Module: &testmod.Module{
				ModInfo:  modinfoFor("mod_gz", testmod.Alias("gz-alias"), testmod.License("GPL")),
				Exports:  []string{"gz_fn"},
				Versions: []testmod.VersionEntry{{CRC: 1, Name: "module_layout"}},
			}},
			{RelPath: "kernel/y/mod_ns.ko", Module: &testmod.Module{
				ModInfo: modinfoFor("mod_ns",
					testmod.Alias("devname:testmod-ns"),
					testmod.Alias("char-major-10-250"),
					testmod.License("Dual MIT/GPL"),
				),
				Exports:         []string{"ns_fn"},
				ExportNamespace: "TESTMOD_NS",
				// Not a real signature: kmod must just ignore it.
				Trailer: []byte("\x00\x01garbage after the ELF image\n"),
			}},
		},
		Builtin:        []string{"kernel/fs/ext4/ext4.ko", "kernel/lib/crc-t10dif.ko"},
		BuiltinModinfo: []string{"ext4.alias=fs-ext4", "ext4.license=GPL", "crc_t10dif.license=GPL"},
	}
}

// classModules returns one exporter and one user module per ELF class.
func classModules(c testmod.Class) (exporter, user *testmod.Module) {
	exporter = &testmod.Module{
		Name:        "exp_" + c.String(),
		Class:       c,
		ModInfo:     modinfoFor("exp", testmod.Alias("exp-"+c.String()+"-*")),
		Exports:     []string{"exp_fn"},
		ExportStyle: testmod.ExportKcrctab,
		ExportCRCs:  map[string]uint32{"exp_fn": 0xcafef00d},
	}
	user = &testmod.Module{
		Name:     "use_" + c.String(),
		Class:    c,
		ModInfo:  modinfoFor("use", testmod.Alias("use-"+c.String())),
		Uses:     []string{"exp_fn"},
		Versions: []testmod.VersionEntry{{CRC: 0xcafef00d, Name: "exp_fn"}, {CRC: 0x01020304, Name: "module_layout"}},
	}
	return exporter, user
}

// allClasses returns every supported class.
func allClasses() []testmod.Class {
	return []testmod.Class{testmod.ELF64LSB, testmod.ELF32LSB, testmod.ELF64MSB, testmod.ELF32MSB}
}
