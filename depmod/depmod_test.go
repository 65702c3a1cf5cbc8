package depmod

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/config"
	"github.com/gokmod/modprobe/internal/index"
	"github.com/gokmod/modprobe/internal/testmod"
)

const rel = "6.1.0-dm"

// writeTree writes t below a new root and returns the root.
func writeTree(t *testing.T, tree *testmod.Tree) string {
	t.Helper()
	tree.Release = rel
	root := t.TempDir()
	if _, err := tree.Write(root); err != nil {
		t.Fatal(err)
	}
	return root
}

func tmod(rel string, exports, uses []string, info ...string) testmod.TreeModule {
	return testmod.TreeModule{RelPath: rel, Module: &testmod.Module{Exports: exports, Uses: uses, ModInfo: info}}
}

// runTree runs depmod on root and returns the files it wrote and its
// messages.
func runTree(t *testing.T, root string, opts Options) (map[string]string, []string, error) {
	t.Helper()
	var msgs []string
	opts.BaseDir, opts.Release = root, rel
	if opts.ConfigPaths == nil {
		opts.ConfigPaths = []string{}
	}
	opts.Log = func(l Level, s string) {
		if l <= LevelWarning {
			msgs = append(msgs, s)
		}
	}
	err := Run(context.Background(), opts)
	files := map[string]string{}
	dir := filepath.Join(root, "lib/modules", rel)
	for _, n := range []string{"modules.dep", "modules.alias", "modules.softdep", "modules.symbols", "modules.devname", "modules.dep.bin"} {
		if b, err := os.ReadFile(filepath.Join(dir, n)); err == nil {
			files[n] = string(b)
		}
	}
	return files, msgs, err
}

func TestDependencies(t *testing.T) {
	root := writeTree(t, &testmod.Tree{Modules: []testmod.TreeModule{
		tmod("kernel/a.ko", []string{"a_fn"}, nil, "alias=pci:v1234d*", "softdep=pre: c"),
		tmod("kernel/b-dash.ko", []string{"b_fn"}, []string{"a_fn"}),
		tmod("kernel/c.ko.xz", nil, []string{"b_fn", "a_fn", "nobody_fn"}, "alias=devname:cdev", "alias=char-major-10-200"),
	}})
	files, msgs, err := runTree(t, root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "kernel/a.ko:\nkernel/b-dash.ko: kernel/a.ko\nkernel/c.ko.xz: kernel/b-dash.ko kernel/a.ko\n"; files["modules.dep"] != want {
		t.Errorf("modules.dep:\n%s\nwant:\n%s", files["modules.dep"], want)
	}
	if want := "# Aliases extracted from modules themselves.\nalias pci:v1234d* a\nalias devname:cdev c\nalias char-major-10-200 c\n"; files["modules.alias"] != want {
		t.Errorf("modules.alias:\n%s", files["modules.alias"])
	}
	if want := "# Soft dependencies extracted from modules themselves.\nsoftdep a pre: c\n"; files["modules.softdep"] != want {
		t.Errorf("modules.softdep:\n%s", files["modules.softdep"])
	}
	if want := "# Device nodes to trigger on-demand module loading.\nc cdev c10:200\n"; files["modules.devname"] != want {
		t.Errorf("modules.devname:\n%s", files["modules.devname"])
	}
	if !strings.Contains(files["modules.symbols"], "alias symbol:a_fn a\n") || !strings.Contains(files["modules.symbols"], "alias symbol:b_fn b_dash\n") {
		t.Errorf("modules.symbols:\n%s", files["modules.symbols"])
	}
	// The binary index holds the same lines under module names.
	x, err := index.New([]byte(files["modules.dep.bin"]))
	if err != nil {
		t.Fatal(err)
	}
	var dump bytes.Buffer
	if err := x.Dump(&dump, ""); err != nil {
		t.Fatal(err)
	}
	if want := "a kernel/a.ko:\nb_dash kernel/b-dash.ko: kernel/a.ko\nc kernel/c.ko.xz: kernel/b-dash.ko kernel/a.ko\n"; dump.String() != want {
		t.Errorf("modules.dep.bin:\n%s", dump.String())
	}
	if len(msgs) != 0 {
		t.Errorf("messages: %q", msgs)
	}
}

func TestCycles(t *testing.T) {
	root := writeTree(t, &testmod.Tree{Modules: []testmod.TreeModule{
		tmod("kernel/a.ko", []string{"a_fn"}, []string{"b_fn"}),
		tmod("kernel/b.ko", []string{"b_fn"}, []string{"a_fn"}),
		tmod("kernel/c.ko", nil, []string{"a_fn"}),
	}})
	files, msgs, err := runTree(t, root, Options{})
	if !errors.Is(err, ErrCycles) {
		t.Fatalf("Run: %v", err)
	}
	if len(files) != 0 {
		t.Errorf("files written despite the cycle: %v", files)
	}
	got := strings.Join(msgs, "\n")
	if !strings.Contains(got, "Found 2 modules in dependency cycles!") || !(strings.Contains(got, "Cycle detected: a -> b -> a") || strings.Contains(got, "Cycle detected: b -> a -> b")) {
		t.Errorf("messages: %q", msgs)
	}
}

func TestSearchAndOverride(t *testing.T) {
	tree := &testmod.Tree{Modules: []testmod.TreeModule{
		tmod("kernel/x.ko", nil, nil), tmod("updates/x.ko", nil, nil),
		tmod("kernel/y.ko", nil, nil), tmod("extra/y.ko", nil, nil),
		tmod("kernel/z.ko", nil, nil), tmod("extra/z.ko", nil, nil),
	}}
	root := writeTree(t, tree)
	// Default: "updates" first, then everything else as found.
	files, _, err := runTree(t, root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(files["modules.dep"], "updates/x.ko:\n") || strings.Contains(files["modules.dep"], "kernel/x.ko:") {
		t.Errorf("updates does not win:\n%s", files["modules.dep"])
	}
	conf := filepath.Join(t.TempDir(), "d.conf")
	if err := os.WriteFile(conf, []byte("search extra built-in\noverride z "+rel+" kernel\noverride y 5.* kernel\n# comment\nbogus line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, msgs, err := runTree(t, root, Options{ConfigPaths: []string{conf}})
	if err != nil {
		t.Fatal(err)
	}
	dep := files["modules.dep"]
	// (x: kernel/ and updates/ are both "built-in" now, so the first one
	// found stays: readdir's order, which depends on the file system.)
	for _, want := range []string{"extra/y.ko:\n", "kernel/z.ko:\n"} {
		if !strings.Contains(dep, want) {
			t.Errorf("modules.dep lacks %q:\n%s", want, dep)
		}
	}
	if !reflect.DeepEqual(msgs, []string{conf + ":5: ignoring bad line starting with 'bogus'"}) {
		t.Errorf("messages: %q", msgs)
	}
}

func TestDryRunAndOutputDir(t *testing.T) {
	root := writeTree(t, &testmod.Tree{Modules: []testmod.TreeModule{tmod("kernel/a.ko", []string{"a_fn"}, nil)}, OmitOrder: true})
	var out bytes.Buffer
	files, msgs, err := runTree(t, root, Options{DryRun: &out, Compat: config.Kmod30})
	if err != nil || len(files) != 0 {
		t.Fatalf("dry run wrote %v, %v", files, err)
	}
	want := "kernel/a.ko:\n# Aliases extracted from modules themselves.\n# Soft dependencies extracted from modules themselves.\n# Aliases for symbols, used by symbol_request().\nalias symbol:a_fn a\n"
	if out.String() != want {
		t.Errorf("dry run:\n%q\nwant\n%q", out.String(), want)
	}
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0], "could not open modules.order at ") {
		t.Errorf("messages: %q", msgs)
	}
	dir := t.TempDir()
	if _, _, err := runTree(t, root, Options{OutputDir: dir, Compat: config.Kmod30}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 10 {
		t.Errorf("OutputDir holds %d files", len(entries))
	}
	if _, err := os.Stat(filepath.Join(root, "lib/modules", rel, "modules.dep")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the module directory was written: %v", err)
	}
}

func TestKernelMatches(t *testing.T) {
	for _, c := range []struct {
		pattern string
		want    bool
	}{{"*", true}, {rel, true}, {"^6\\.1", true}, {"dm$", true}, {"^5", false}, {"(", false}, {"6.1.0-dm-extra", false}} {
		if got := kernelMatches(c.pattern, rel); got != c.want {
			t.Errorf("kernelMatches(%q) = %v", c.pattern, got)
		}
	}
}

func TestWeakdep(t *testing.T) {
	root := writeTree(t, &testmod.Tree{Modules: []testmod.TreeModule{tmod("kernel/a.ko", nil, nil, "weakdep=b", "weakdep=c")}})
	for _, latest := range []bool{false, true} {
		c := config.Kmod30
		if latest {
			c = config.Latest
		}
		if _, _, err := runTree(t, root, Options{Compat: c}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(root, "lib/modules", rel, "modules.weakdep"))
		if !latest {
			if !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("kmod 30 writes no modules.weakdep: %q, %v", b, err)
			}
			continue
		}
		if want := "# Weak dependencies extracted from modules themselves.\nweakdep a b\nweakdep a c\n"; string(b) != want {
			t.Fatalf("modules.weakdep %q, %v", b, err)
		}
	}
}
