package vmtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

// TestWeakdepModule edits Debian's nlmon to declare a weak dependency:
// kmod's modinfo reads the new entry, and the signature is gone.
func TestWeakdepModule(t *testing.T) {
	root, release := testmod.DebianTree(t)
	rels, err := ModuleClosure(root, release, []string{"nlmon"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := WeakdepModule(context.Background(), filepath.Join(testmod.ModuleDir(root, release), rels[0]), "dummy")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), filepath.Base(rels[0]))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{"weakdep": "dummy\n", "sig_id": "", "name": "nlmon\n"} {
		out, err := testmod.RunModinfo(context.Background(), "-F", field, p)
		if err != nil || out != want {
			t.Errorf("modinfo -F %s: %q, %v; want %q", field, out, err, want)
		}
	}
	if _, err := WeakdepModule(context.Background(), filepath.Join(testmod.ModuleDir(root, release), rels[0]), strings.Repeat("x", 200)); err == nil {
		t.Error("a weak dependency longer than the author entry was accepted")
	}
}

// TestRecompressedTree recompresses a stack of Debian 12's tree with xz
// and indexes it: modules.dep lists the stack with the new suffix, and
// each file decompresses to the tree's module.
func TestRecompressedTree(t *testing.T) {
	root, release := testmod.DebianTree(t)
	testmod.RequireTool(t, "xz")
	ctx := context.Background()
	dir := t.TempDir()
	files, err := RecompressedTree(ctx, root, release, []string{"macvtap"}, ".ko.xz", "", dir, "/alt")
	if err != nil {
		t.Fatal(err)
	}
	rels, err := ModuleClosure(dir, release, []string{"macvtap"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) != 3 {
		t.Fatalf("the recompressed tree holds %v, want macvtap, macvlan and tap", rels)
	}
	for _, rel := range rels {
		if !strings.HasSuffix(rel, ".ko.xz") {
			t.Errorf("%s: not .ko.xz", rel)
			continue
		}
		if _, ok := files["/alt/lib/modules/"+release+"/"+rel]; !ok {
			t.Errorf("%s: not among the guest files", rel)
		}
		got, err := ReadModule(ctx, filepath.Join(testmod.ModuleDir(dir, release), rel))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(testmod.ModuleDir(root, release), strings.TrimSuffix(rel, ".xz")))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s does not decompress to the tree's module", rel)
		}
	}
	if _, err := RecompressedTree(ctx, root, release, []string{"dummy"}, ".ko.lz4", "", t.TempDir(), "/alt"); err == nil {
		t.Error("an unknown suffix was accepted")
	}
}
