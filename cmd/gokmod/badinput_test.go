package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/index"
	"github.com/gokmod/modprobe/internal/testmod"
)

// Bad input: each case must give kmod's message (compared with the real
// kmod where kmod's behaviour is defined) or a clear error, and never a
// panic.

func TestBadInputMissingModuleDir(t *testing.T) {
	forEachKmod(t, "modprobe", func(t *testing.T, k kmodRef) {
		for _, args := range [][]string{
			{"-d", "/nonexistent/root", "-S", "1.2.3", "-D", "ip_vs"},
			{"-d", "/nonexistent/root", "-S", "1.2.3", "-R", "ip_vs"},
			{"-d", "/nonexistent/root", "-S", "1.2.3", "-C", "/dev/null", "-c"},
			{"-d", "relative/root", "-S", "1.2.3", "-D", "ip_vs"},
		} {
			k.compare(t, "modprobe", args, nil)
		}
	})
}

// writeIndexTree writes a module tree whose indexes the test controls:
// text files plus .bin files made by gokmod's index writer, which kmod
// must read like its own.
func writeIndexTree(t *testing.T, dep string, extra map[string][]byte) (root string) {
	t.Helper()
	root = t.TempDir()
	dir := testmod.ModuleDir(root, "1.0")
	var b index.Builder
	for i, line := range strings.Split(strings.TrimSpace(dep), "\n") {
		path, _, _ := strings.Cut(line, ":")
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, path), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := b.Add(testmod.ModName(path), line, uint32(i)); err != nil {
			t.Fatal(err)
		}
	}
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"modules.dep": []byte(dep), "modules.dep.bin": data}
	empty, _ := (&index.Builder{}).Bytes()
	for _, n := range []string{"modules.alias.bin", "modules.symbols.bin", "modules.builtin.bin", "modules.builtin.alias.bin"} {
		files[n] = empty
	}
	for k, v := range extra {
		files[k] = v
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestBadInputDependencyCycle(t *testing.T) {
	forEachKmod(t, "modprobe", func(t *testing.T, k kmodRef) {
		// depmod never writes a cycle, but a hand-made index can hold one;
		// like libkmod, gokmod trusts each line's closure and terminates.
		root := writeIndexTree(t, "kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\nkernel/c.ko: kernel/c.ko\n", nil)
		for _, n := range []string{"a", "b", "c"} {
			k.compare(t, "modprobe", []string{"-d", root, "-S", "1.0", "-C", "/dev/null", "-D", n}, nil)
		}
		conf := filepath.Join(root, "loop.conf")
		if err := os.WriteFile(conf, []byte("alias a b\nalias b a\nsoftdep a pre: b\nsoftdep b pre: a post: c\nsoftdep c post: a\ninstall c /sbin/modprobe c\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"a", "b", "c"} {
			k.compare(t, "modprobe", []string{"-d", root, "-S", "1.0", "-C", conf, "-D", n}, nil)
			k.compare(t, "modprobe", []string{"-d", root, "-S", "1.0", "-C", conf, "-R", n}, nil)
		}
	})
}

func TestBadInputCorruptIndexes(t *testing.T) {
	// Header damage: kmod logs it, ignores that index and reads the rest.
	forEachKmod(t, "modprobe", func(t *testing.T, k kmodRef) {
		root := writeIndexTree(t, "kernel/a.ko:\n", map[string][]byte{
			"modules.alias.bin": []byte("\xb0\x07\xfa\x57\x00\x02\x00\x01\x00\x00\x00\x0c"),
		})
		k.compare(t, "modprobe", []string{"-d", root, "-S", "1.0", "-C", "/dev/null", "-D", "a"}, nil)
		k.compare(t, "modprobe", []string{"-d", root, "-S", "1.0", "-C", "/dev/null", "-R", "pci:x"}, nil)
		root = writeIndexTree(t, "kernel/a.ko:\n", map[string][]byte{
			"modules.dep.bin": []byte("\xb0\x07\xf4\x57\x00\x03\x00\x01\x00\x00\x00\x0c"),
		})
		k.compare(t, "modprobe", []string{"-d", root, "-S", "1.0", "-C", "/dev/null", "-D", "a"}, nil)
	})

	// Damage inside the trie, where kmod 30 reads out of bounds: gokmod
	// must stay sane. Truncate and flip bytes of a real index.
	root := writeIndexTree(t, "kernel/alpha.ko:\nkernel/alphabet.ko: kernel/alpha.ko\nkernel/beta.ko:\n", nil)
	dep := filepath.Join(testmod.ModuleDir(root, "1.0"), "modules.dep.bin")
	orig, err := os.ReadFile(dep)
	if err != nil {
		t.Fatal(err)
	}
	variants := [][]byte{orig[:len(orig)/2], orig[:13]}
	for i := 12; i < len(orig); i++ {
		v := append([]byte{}, orig...)
		v[i] ^= 0xff
		variants = append(variants, v)
	}
	for _, v := range variants {
		if err := os.WriteFile(dep, v, 0o644); err != nil {
			t.Fatal(err)
		}
		got := runOurs("modprobe", []string{"-d", root, "-S", "1.0", "-C", "/dev/null", "-D", "alphabet"}, nil)
		if got.Code != 0 && !strings.Contains(got.Stderr, "not found in directory") {
			t.Errorf("corrupt index: unexpected outcome %s", got)
		}
	}
}

func TestBadInputLongLines(t *testing.T) {
	forEachKmod(t, "modprobe", func(t *testing.T, k kmodRef) {
		root := writeIndexTree(t, "kernel/a.ko:\n", nil)
		conf := filepath.Join(root, "long.conf")
		long := strings.Repeat("x", 2<<20)
		if err := os.WriteFile(conf, []byte("options a big="+long+"\nalias "+long+" a\n"+long+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		k.compare(t, "modprobe", []string{"-d", root, "-S", "1.0", "-C", conf, "-D", "a"}, nil)
		// One argument can hold at most 128 KiB (MAX_ARG_STRLEN).
		arg := long[:100<<10]
		k.compare(t, "modprobe", []string{"-d", root, "-S", "1.0", "-C", conf, "-R", arg}, nil)
		k.compare(t, "modprobe", []string{"-d", root, "-S", "1.0", "-C", conf, "-D", "a", "p=" + arg}, nil)
	})
}

func TestBadInputBrackets(t *testing.T) {
	forEachKmod(t, "modprobe", func(t *testing.T, k kmodRef) {
		root := writeIndexTree(t, "kernel/a.ko:\n", nil)
		conf := filepath.Join(root, "b.conf")
		if err := os.WriteFile(conf, []byte("alias x[ a\nalias ]x a\noptions a[ o=1\nsoftdep a pre: b[ c]\nalias ok[a-b] a\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"a", "x[", "]x", "ok-", "oka", "[", "]"} {
			k.compare(t, "modprobe", []string{"-d", root, "-S", "1.0", "-C", conf, "-D", n}, nil)
			k.compare(t, "modprobe", []string{"-d", root, "-S", "1.0", "-C", conf, "-R", n}, nil)
		}
		k.compare(t, "modprobe", []string{"-d", root, "-S", "1.0", "-C", conf, "-c"}, nil)
	})
}
