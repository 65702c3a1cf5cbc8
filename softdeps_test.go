package modprobe_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/modprobetest"
)

// Options.Softdeps: KMM's modulesLoadingOrder without a modprobe.d file.
func TestOptionsSoftdeps(t *testing.T) {
	root := t.TempDir()
	if _, err := modprobetest.WriteTree(root, "6.1.0-sd",
		modprobetest.Module{Name: "m0"}, modprobetest.Module{Name: "m1"}, modprobetest.Module{Name: "m2"},
		modprobetest.Module{Name: "other"},
	); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(root, "modprobe.d")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	// A file's softdep for m0 loses to the program's.
	if err := os.WriteFile(filepath.Join(conf, "a.conf"), []byte("softdep m0 pre: other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k := modprobetest.NewKernel(t)
	if err := k.SetRelease("6.1.0-sd"); err != nil {
		t.Fatal(err)
	}
	l := k.Open(t, modprobe.Options{RootDir: root, ConfigPaths: []string{conf}, Softdeps: []modprobe.Softdep{
		{Module: "m0", Pre: []string{"m1"}},
		{Module: "m1", Pre: []string{"m2", "nosuch"}},
	}})
	k.FailInsert("m2", errors.New("refused"))
	if err := l.Load(context.Background(), "m0"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range k.Inserts() {
		got = append(got, in.Module)
	}
	// m2 is tried first and its failure ignored, as for any softdep.
	if want := []string{"m2", "m1", "m0"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("inserts %q; want %q", got, want)
	}

	for _, bad := range []modprobe.Softdep{{Module: ""}, {Module: "a b"}, {Module: "m", Pre: []string{"x\ny"}}, {Module: "m", Post: []string{""}}, {Module: "[m"}} {
		_, err := modprobe.Open(k.Options(modprobe.Options{RootDir: root, Softdeps: []modprobe.Softdep{bad}}))
		if !errors.Is(err, modprobe.ErrBadName) {
			t.Errorf("Softdeps %+v: %v; want ErrBadName", bad, err)
		}
	}
}
