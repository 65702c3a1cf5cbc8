package kata

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/modprobetest"
)

const release = "6.1.0-kata"

// fakeGuest returns a Loader on a fake kernel with a module tree: base;
// net (needs base, takes queues); gpu (takes mode); broken; and the
// builtin module fs; modprobe.d sets net queues=2.
func fakeGuest(t *testing.T) (*modprobe.Loader, *modprobetest.Kernel) {
	t.Helper()
	root := t.TempDir()
	dir, err := modprobetest.WriteTree(root, release,
		modprobetest.Module{Name: "base"},
		modprobetest.Module{Name: "net", Depends: []string{"base"}, Params: []string{"queues:int", "label:charp"}},
		modprobetest.Module{Name: "gpu", Params: []string{"mode:int"}},
		modprobetest.Module{Name: "broken"},
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte("kernel/fs/fs.ko\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(root, "modprobe.d")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "net.conf"), []byte("options net queues=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k := modprobetest.NewKernel(t)
	if err := k.SetRelease(release); err != nil {
		t.Fatal(err)
	}
	k.FailInsert("broken", syscall.ENOEXEC)
	l := k.Open(t, modprobe.Options{RootDir: root, ConfigPaths: []string{conf}})
	return l, k
}

// inserted returns "module params" for each insert the kernel saw.
func inserted(k *modprobetest.Kernel) []string {
	var out []string
	for _, in := range k.Inserts() {
		out = append(out, in.Module+" "+in.Params)
	}
	return out
}

func TestLoadInOrder(t *testing.T) {
	l, k := fakeGuest(t)
	reqs, err := ParseAnnotation(`gpu mode=1; net label="a b" queues=4; fs`)
	if err != nil {
		t.Fatal(err)
	}
	if err := Load(context.Background(), l, reqs, modprobe.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	// Dependencies first; modprobe.d's options before the caller's; the
	// quoted value reaches the kernel as one parameter; builtin fs is
	// success without an insert.
	want := []string{"gpu mode=1", "base ", `net queues=2 label="a b" queues=4`}
	if got := inserted(k); !reflect.DeepEqual(got, want) {
		t.Fatalf("inserts %q; want %q", got, want)
	}
}

func TestLoadStopsAtFirstFailure(t *testing.T) {
	l, k := fakeGuest(t)
	reqs := []modprobe.Request{{Name: "gpu"}, {Name: "broken"}, {Name: "net"}}
	err := Load(context.Background(), l, reqs, modprobe.LoadOptions{})
	var me *modprobe.ModuleError
	if !errors.Is(err, syscall.ENOEXEC) || !errors.As(err, &me) || me.Module != "broken" {
		t.Fatalf("Load: %v; want broken's ENOEXEC", err)
	}
	// No rollback, and nothing after the failure.
	if got := k.Loaded(); !reflect.DeepEqual(got, []string{"gpu"}) {
		t.Fatalf("loaded %q; want only gpu", got)
	}

	l2, k2 := fakeGuest(t)
	err = Load(context.Background(), l2, []modprobe.Request{{Name: "nosuch"}, {Name: "gpu"}}, modprobe.LoadOptions{})
	if !errors.Is(err, modprobe.ErrNotFound) {
		t.Fatalf("Load of a missing module: %v", err)
	}
	if got := k2.Loaded(); len(got) != 0 {
		t.Fatalf("loaded %q after a missing module", got)
	}
}

func TestLoadAlreadyLoadedIgnoresParams(t *testing.T) {
	l, k := fakeGuest(t)
	if err := k.Preload("gpu"); err != nil {
		t.Fatal(err)
	}
	if err := Load(context.Background(), l, []modprobe.Request{{Name: "gpu", Params: []string{"mode=3"}}}, modprobe.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := inserted(k); len(got) != 0 {
		t.Fatalf("inserts %q; want none", got)
	}
}

func TestLoadContextCancelled(t *testing.T) {
	l, k := fakeGuest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Load(ctx, l, []modprobe.Request{{Name: "gpu"}}, modprobe.LoadOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Load: %v", err)
	}
	if got := k.Loaded(); len(got) != 0 {
		t.Fatalf("loaded %q", got)
	}
}

// TestLoadInstallCommandGetsData: a parameter from the annotation (the
// container's author writes it) reaches an install command's
// $CMDLINE_OPTS as one word of data: no field splitting into options, no
// command substitution.
func TestLoadInstallCommandGetsData(t *testing.T) {
	root := t.TempDir()
	if _, err := modprobetest.WriteTree(root, release, modprobetest.Module{Name: "loop", Params: []string{"max_loop:int"}}); err != nil {
		t.Fatal(err)
	}
	out, pwned := filepath.Join(root, "argv"), filepath.Join(root, "pwned")
	conf := filepath.Join(root, "modprobe.d")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := "install loop for a in $CMDLINE_OPTS; do echo \"$a\"; done >" + out + "\n"
	if err := os.WriteFile(filepath.Join(conf, "loop.conf"), []byte(cmd), 0o644); err != nil {
		t.Fatal(err)
	}
	k := modprobetest.NewKernel(t)
	if err := k.SetRelease(release); err != nil {
		t.Fatal(err)
	}
	l := k.Open(t, modprobe.Options{RootDir: root, ConfigPaths: []string{conf}})
	value := "loop max_loop=8${IFS}-a${IFS}dummy p=$(touch${IFS}" + pwned + ") q=`id`"
	reqs, err := ParseAnnotation(value)
	if err != nil {
		t.Fatal(err)
	}
	if err := Load(context.Background(), l, reqs, modprobe.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "max_loop=8${IFS}-a${IFS}dummy\np=$(touch${IFS}" + pwned + ")\nq=`id`\n"
	if string(b) != want {
		t.Errorf("the install command got\n%s\nwant\n%s", b, want)
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Error("a parameter from the annotation ran a command")
	}
	if got := inserted(k); len(got) != 0 {
		t.Errorf("inserts %q; the install command replaces them", got)
	}
}
