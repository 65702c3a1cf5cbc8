package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

// TestMakeBuildStatic: make build, the documented way to build gokmod
// and the worker, gives static executables (no PT_INTERP) even where cgo
// is on, as it is by default on a host with a C compiler: the worker
// links net and os/user, which with cgo would link it against libc,
// loaded through ld.so at every start.
func TestMakeBuildStatic(t *testing.T) {
	makeTool := testmod.RequireTool(t, "make")
	bin := t.TempDir()
	cmd := exec.Command(makeTool, "-s", "-C", "../..", "build", "BIN="+bin)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	for _, name := range []string{"gokmod", "worker"} {
		f, err := elf.Open(filepath.Join(bin, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s has a PT_INTERP segment: dynamically linked", name)
			}
		}
		if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
			t.Errorf("%s imports libraries %q (%v)", name, libs, err)
		}
		f.Close()
	}
}
