//go:build vmguest

package guest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/modfile"
	"github.com/gokmod/modprobe/internal/modsig"
)

// TestLayeredTree loads through a layered tree on the real kernel: an
// upper module directory holds ip_vs unsigned (the tree's file,
// decompressed, its signature cut off) over the running kernel's tree.
// Loading the base's ip_vs_wrr inserts the upper ip_vs, which the kernel
// marks as unsigned (module taint 'E'), with the base's dependencies of
// ip_vs and the base's ip_vs_wrr (signed: no 'E'). The base is the files
// of ip_vs_wrr's modules.dep line, linked from the running kernel's tree
// (indexing all of it, decompressing every module under TCG, would take
// the suite minutes; TestLayersMatchKmod covers whole trees). The file
// sorts after compressed_test.go, whose test needs an untainted kernel.
func TestLayeredTree(t *testing.T) {
	freshKernel(t)
	ctx := context.Background()
	base := smallBase(t, "ip_vs_wrr")
	src := modulePath(t, "ip_vs")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(src, ".xz") {
		if data, err = modfile.DecompressBytes(data, 64<<20); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
	}
	body, sig, err := modsig.Split(data)
	if err != nil || len(sig) == 0 {
		t.Fatalf("%s: no signature to cut off (%v)", src, err)
	}
	upper := t.TempDir()
	mine := filepath.Join(upper, "extra", "ip_vs.ko")
	if err := os.MkdirAll(filepath.Dir(mine), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mine, body, 0o644); err != nil {
		t.Fatal(err)
	}

	l, err := modprobe.OpenContext(ctx, modprobe.Options{ModuleDir: upper, LowerDirs: []string{base}, Compat: compat(t), ConfigPaths: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	mods, err := l.Lookup(ctx, "ip_vs")
	if err != nil || len(mods) != 1 || mods[0].Path != mine {
		t.Fatalf("Lookup(ip_vs) = %v, %v; want %s", mods, err, mine)
	}
	if err := l.Load(ctx, "ip_vs_wrr"); err != nil {
		t.Fatal(err)
	}
	live := liveModules(t)
	for _, m := range []string{"ip_vs", "ip_vs_wrr", "nf_conntrack"} {
		if !slices.Contains(live, m) {
			t.Errorf("%s is not live: %v", m, live)
		}
	}
	if taint := readFile(t, "/sys/module/ip_vs/taint"); !strings.Contains(taint, "E") {
		t.Errorf("ip_vs taint %q: the kernel did not get the upper layer's unsigned file", strings.TrimSpace(taint))
	}
	if taint := readFile(t, "/sys/module/ip_vs_wrr/taint"); strings.Contains(taint, "E") {
		t.Errorf("ip_vs_wrr taint %q: the base's file is signed", strings.TrimSpace(taint))
	}
	if err := l.Remove(ctx, "ip_vs_wrr"); err != nil {
		t.Fatal(err)
	}
	if live := liveModules(t); slices.Contains(live, "ip_vs") {
		t.Errorf("ip_vs still live after removing ip_vs_wrr: %v", live)
	}
}

// smallBase returns a module directory holding links to the files of
// name's modules.dep line in the running kernel's tree, and its
// modules.builtin.
func smallBase(t *testing.T, name string) string {
	t.Helper()
	dir := moduleDir(t)
	base := t.TempDir()
	rels := []string{strings.TrimPrefix(modulePath(t, name), dir+"/")}
	for line := range strings.Lines(readFile(t, dir+"/modules.dep")) {
		file, deps, _ := strings.Cut(strings.TrimSpace(line), ":")
		if file == rels[0] {
			rels = append(rels, strings.Fields(deps)...)
			break
		}
	}
	for _, rel := range rels {
		dst := filepath.Join(base, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(dir, rel), dst); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(base, "modules.builtin"), []byte(readFile(t, dir+"/modules.builtin")), 0o644); err != nil {
		t.Fatal(err)
	}
	return base
}
