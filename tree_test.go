package modprobe_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/index"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/modprobetest"
)

// treeRelease is the kernel release of the trees built by these tests.
const treeRelease = "6.0.0-test"

// testTree is a module tree written for a test: text indexes only (so no
// kmod tool is needed; the Loader builds the binary indexes from them),
// small ELF module files (modprobetest.WriteTree's), a modprobe.d
// directory, and empty sysfs and procfs directories.
type testTree struct {
	Root   string
	Conf   string
	Sysfs  string
	Proc   string
	ModDir string
}

// newTree writes a module tree below a new root: the modules on the left
// of the modules.dep text in files as real ELF files (see buildTree), and
// the files as given. Keys are paths relative to the module directory,
// except those starting with "conf/", "sys/" or "proc/".
func newTree(t testing.TB, files map[string]string) *testTree {
	t.Helper()
	return buildTree(t, files, nil)
}

// buildTree writes the modules of the modules.dep text in files with
// modprobetest.WriteTree (the suffix chooses the compression), each
// declaring its modules.dep line as depends= and the parameters in params
// (by module name, each "name:type"), then the files as given, the
// modules.dep text among them.
func buildTree(t testing.TB, files map[string]string, params map[string][]string) *testTree {
	t.Helper()
	var mods []modprobetest.Module
	for _, line := range strings.Split(files["modules.dep"], "\n") {
		p, rest, ok := strings.Cut(line, ":")
		if !ok || p == "" {
			continue
		}
		m := modprobetest.Module{Name: testmod.ModName(p), Path: p}
		for _, d := range strings.Fields(rest) {
			m.Depends = append(m.Depends, testmod.ModName(d))
		}
		m.Params = params[m.Name]
		mods = append(mods, m)
	}
	root := t.TempDir()
	if _, err := modprobetest.WriteTree(root, treeRelease, mods...); err != nil {
		t.Fatal(err)
	}
	tt := &testTree{
		Root:   root,
		Conf:   filepath.Join(root, "conf"),
		Sysfs:  filepath.Join(root, "sys"),
		Proc:   filepath.Join(root, "proc"),
		ModDir: filepath.Join(root, "lib/modules", treeRelease),
	}
	for _, d := range []string{tt.Conf, filepath.Join(tt.Sysfs, "module"), tt.Proc, tt.ModDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, content string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range files {
		switch {
		case strings.HasPrefix(name, "conf/"), strings.HasPrefix(name, "sys/"), strings.HasPrefix(name, "proc/"):
			write(filepath.Join(root, name), content)
		default:
			write(filepath.Join(tt.ModDir, name), content)
		}
	}
	return tt
}

// writeBinIndexes writes binary indexes built from the tree's text files,
// as depmod would, so that the Loader maps them instead of falling back.
func (tt *testTree) writeBinIndexes(t testing.TB) {
	t.Helper()
	s := index.Load(tt.ModDir, nil)
	defer s.Close()
	for _, k := range []index.Kind{index.Dep, index.Alias, index.Symbols, index.Builtin, index.BuiltinAlias} {
		var b index.Builder
		s.Get(k).Walk(func(key string, v index.Value) {
			if err := b.Add(key, v.Value, v.Priority); err != nil {
				t.Fatal(err)
			}
		})
		data, err := b.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tt.ModDir, k.File()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// open returns a Loader on the tree with its own configuration only.
func (tt *testTree) open(t testing.TB) *modprobe.Loader {
	t.Helper()
	l, err := modprobe.Open(modprobe.Options{
		RootDir:       tt.Root,
		KernelRelease: treeRelease,
		ConfigPaths:   []string{tt.Conf},
		SysfsDir:      tt.Sysfs,
		ProcDir:       tt.Proc,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// path returns the absolute path of a module file of the tree.
func (tt *testTree) path(rel string) string { return tt.ModDir + "/" + rel }

// showDepends returns the lines modprobe --show-depends would print for
// name with params.
func showDepends(t testing.TB, l *modprobe.Loader, name string, params ...string) []string {
	t.Helper()
	plan, err := l.Plan(context.Background(), name, params, modprobe.PlanOptions{IgnoreLoaded: true})
	if err != nil {
		t.Fatalf("Plan(%q): %v", name, err)
	}
	var lines []string
	for _, pr := range plan.Probes {
		_ = pr.DryRun(modprobe.DryRunOptions{}, func(a modprobe.Action) {
			if s := a.String(); s != "" {
				lines = append(lines, s)
			}
		})
	}
	return lines
}
