package testmod_test

import (
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTreeWrite(t *testing.T) {
	root := t.TempDir()
	tree := fixtureTree()
	tree.Files = map[string][]byte{"etc/modprobe.d/x.conf": []byte("options mod_a debug=1\n")}
	dir, err := tree.Write(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "lib", "modules", fixtureRelease); dir != want || testmod.ModuleDir(root, fixtureRelease) != want {
		t.Errorf("module dir %q, want %q", dir, want)
	}
	wantOrder := "kernel/x/mod_a.ko\nkernel/x/mod_b.ko\nkernel/x/mod_c.ko\nkernel/x/mod-dash.ko\n" +
		"kernel/y/mod_soft.ko\nkernel/y/mod_gz.ko\nkernel/y/mod_ns.ko\n"
	if got := readFile(t, filepath.Join(dir, "modules.order")); got != wantOrder {
		t.Errorf("modules.order = %q, want %q", got, wantOrder)
	}
	if got := readFile(t, filepath.Join(dir, "modules.builtin")); got != "kernel/fs/ext4/ext4.ko\nkernel/lib/crc-t10dif.ko\n" {
		t.Errorf("modules.builtin = %q", got)
	}
	if got := readFile(t, filepath.Join(dir, "modules.builtin.modinfo")); got != "ext4.alias=fs-ext4\x00ext4.license=GPL\x00crc_t10dif.license=GPL\x00" {
		t.Errorf("modules.builtin.modinfo = %q", got)
	}
	if got := readFile(t, filepath.Join(root, "etc/modprobe.d/x.conf")); got != "options mod_a debug=1\n" {
		t.Errorf("extra file = %q", got)
	}
	for _, tm := range tree.Modules {
		if tm.Module.Name != "" {
			t.Errorf("Write modified the caller's module %s", tm.RelPath)
		}
		raw := []byte(readFile(t, filepath.Join(dir, tm.RelPath)))
		c, _ := testmod.CompressionFromPath(tm.RelPath)
		img := decompress(t, raw, c)
		f, err := elf.NewFile(bytes.NewReader(img))
		if err != nil {
			t.Fatalf("%s: %v", tm.RelPath, err)
		}
		tmData, err := f.Section(".gnu.linkonce.this_module").Data()
		if err != nil {
			t.Fatal(err)
		}
		off, _ := testmod.ThisModuleNameOffset(testmod.ELF64LSB)
		name, _, _ := bytes.Cut(tmData[off:], []byte{0})
		if want := testmod.ModName(tm.RelPath); string(name) != want {
			t.Errorf("%s: struct module.name %q, want %q", tm.RelPath, name, want)
		}
		f.Close()
	}
}

func TestTreeWriteOptions(t *testing.T) {
	root := t.TempDir()
	tree := &testmod.Tree{
		Release:            "1.0",
		Modules:            []testmod.TreeModule{{RelPath: "a.ko.xz", Module: &testmod.Module{Name: "custom"}, Compression: testmod.XzCRC64}},
		OmitOrder:          true,
		OmitBuiltinModinfo: true,
	}
	dir, err := tree.Write(root)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"modules.order": false, "modules.builtin": true, "modules.builtin.modinfo": false, "a.ko.xz": true} {
		_, err := os.Stat(filepath.Join(dir, name))
		if got := err == nil; got != want {
			t.Errorf("%s exists = %v, want %v", name, got, want)
		}
	}
	if got := readFile(t, filepath.Join(dir, "modules.builtin")); got != "" {
		t.Errorf("nil Builtin wrote %q", got)
	}

	tree = &testmod.Tree{Release: "1.0", Order: []string{"custom/order.ko"},
		Modules: []testmod.TreeModule{{RelPath: "a.ko", Module: &testmod.Module{}}}}
	if dir, err = tree.Write(root); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "modules.order")); got != "custom/order.ko\n" {
		t.Errorf("modules.order = %q", got)
	}
}

func TestTreeWriteRejects(t *testing.T) {
	m := &testmod.Module{}
	cases := map[string]*testmod.Tree{
		"no release":      {Modules: []testmod.TreeModule{{RelPath: "a.ko", Module: m}}},
		"slash release":   {Release: "a/b"},
		"absolute path":   {Release: "1", Modules: []testmod.TreeModule{{RelPath: "/a.ko", Module: m}}},
		"dotdot path":     {Release: "1", Modules: []testmod.TreeModule{{RelPath: "../a.ko", Module: m}}},
		"unclean path":    {Release: "1", Modules: []testmod.TreeModule{{RelPath: "x//a.ko", Module: m}}},
		"no suffix":       {Release: "1", Modules: []testmod.TreeModule{{RelPath: "a.o", Module: m}}},
		"suffix mismatch": {Release: "1", Modules: []testmod.TreeModule{{RelPath: "a.ko", Module: m, Compression: testmod.Zstd}}},
		"nil module":      {Release: "1", Modules: []testmod.TreeModule{{RelPath: "a.ko"}}},
		"duplicate":       {Release: "1", Modules: []testmod.TreeModule{{RelPath: "a.ko", Module: m}, {RelPath: "a.ko", Module: m}}},
		"bad module":      {Release: "1", Modules: []testmod.TreeModule{{RelPath: "a.ko", Module: &testmod.Module{Uses: []string{""}}}}},
		"escaping file":   {Release: "1", Files: map[string][]byte{"../x": nil}},
	}
	for name, tree := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := tree.Write(t.TempDir()); err == nil {
				t.Errorf("Write succeeded")
			}
		})
	}
}

func TestModNameAndPaths(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/x/mod-dash.ko.xz": "mod_dash", "a.ko": "a", "x/b-c-d.ko.zst": "b_c_d",
	} {
		if got := testmod.ModName(in); got != want {
			t.Errorf("ModName(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"k/a.ko.xz": "k/a.ko", "k/a.ko.zst": "k/a.ko", "k/a.ko.gz": "k/a.ko", "k/a.ko": "k/a.ko",
	} {
		if got := testmod.UncompressedPath(in); got != want {
			t.Errorf("UncompressedPath(%q) = %q, want %q", in, got, want)
		}
	}
}
