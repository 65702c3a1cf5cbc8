package adversarial_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/kmodimage"
	"github.com/gokmod/modprobe/modprobetest"
)

// advWorkerPathCases are KMM worker configurations whose paths would
// leave the shared directory, by "..", by a symbolic link the image put
// there, or by a firmware link: refused before anything changes (no
// insert, no removal, no firmware copied, no index written outside).
func advWorkerPathCases() []advCase {
	const cat = "worker"
	// setup: the host tree is the case's root (in-tree module intree,
	// loaded), the shared directory root/shared holds the image's tree
	// (module oot) and firmware, and root/outside is the canary.
	setup := func(link func(t *testing.T, e *advEnv, shared string)) func(t *testing.T, n int) *advEnv {
		return func(t *testing.T, n int) *advEnv {
			e := advTree(t, modprobetest.Module{Name: "intree"})
			if err := e.k.Preload("intree"); err != nil {
				t.Fatal(err)
			}
			shared := filepath.Join(e.root, "shared")
			if _, err := modprobetest.WriteTree(filepath.Join(shared, "opt"), advRelease, modprobetest.Module{Name: "oot"}); err != nil {
				t.Fatal(err)
			}
			e.writeFile(t, filepath.Join(shared, "firmware/oot.bin"), "fw")
			// A module tree without indexes outside: indexing it would
			// write there.
			if _, err := modprobetest.WriteTree(filepath.Join(e.outside, "opt"), advRelease, modprobetest.Module{Name: "oot"}); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(e.outside, "opt/lib/modules", advRelease, "modules.dep")); err != nil {
				t.Fatal(err)
			}
			if link != nil {
				link(t, e, shared)
			}
			e.vals["shared"] = shared
			return e
		}
	}
	symlink := func(target func(e *advEnv) string, at string) func(t *testing.T, e *advEnv, shared string) {
		return func(t *testing.T, e *advEnv, shared string) {
			p := filepath.Join(shared, at)
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target(e), p); err != nil {
				t.Fatal(err)
			}
		}
	}
	load := func(mutate func(c *kmodimage.ModuleConfig)) func(ctx context.Context, t *testing.T, e *advEnv) error {
		return func(ctx context.Context, t *testing.T, e *advEnv) error {
			c := &kmodimage.ModuleConfig{
				KernelVersion:         advRelease,
				InTreeModulesToRemove: []string{"intree"},
				Modprobe:              kmodimage.ModprobeSpec{ModuleName: "oot", DirName: "/opt", FirmwarePath: "/firmware"},
			}
			if mutate != nil {
				mutate(c)
			}
			w := &kmodimage.Worker{
				SharedDir:     e.vals["shared"],
				FirmwarePath:  filepath.Join(e.root, "hostfw"),
				KernelRelease: advRelease,
				Options:       e.k.Options(modprobe.Options{RootDir: e.root, ConfigPaths: []string{}}),
			}
			return w.Load(ctx, c)
		}
	}
	outside := func(rel string) func(e *advEnv) string {
		return func(e *advEnv) string { return filepath.Join(e.outside, rel) }
	}
	return []advCase{
		{
			name: "dirName climbing out", category: cat, setup: setup(nil),
			act:  load(func(c *kmodimage.ModuleConfig) { c.Modprobe.DirName = "/opt/../../outside/opt" }),
			want: advIs(kmodimage.ErrConfig),
		},
		{
			name: "firmwarePath climbing out", category: cat, setup: setup(nil),
			act:  load(func(c *kmodimage.ModuleConfig) { c.Modprobe.FirmwarePath = "/firmware/../../outside" }),
			want: advIs(kmodimage.ErrConfig),
		},
		{
			name: "kernelVersion climbing out", category: cat, setup: setup(nil),
			act:  load(func(c *kmodimage.ModuleConfig) { c.KernelVersion = "../../../outside" }),
			want: advIs(kmodimage.ErrConfig),
		},
		{
			name: "dirName a symbolic link out", category: cat, setup: setup(symlink(outside("opt"), "opt")),
			act: load(nil), want: advIs(kmodimage.ErrOutsideRoot),
		},
		{
			name: "kernel directory a relative link out", category: cat,
			setup: setup(symlink(func(*advEnv) string { return "../../../../outside/opt/lib/modules/" + advRelease }, "opt/lib/modules/"+advRelease)),
			act:   load(nil), want: advIs(kmodimage.ErrOutsideRoot),
		},
		{
			name: "firmwarePath a symbolic link out", category: cat, setup: setup(symlink(outside(""), "firmware")),
			act: load(nil), want: advIs(kmodimage.ErrOutsideRoot),
		},
		{
			name: "firmware link to a host file", category: cat, setup: setup(symlink(func(*advEnv) string { return "/etc/shadow" }, "firmware/evil.bin")),
			act: load(nil), want: advIs(kmodimage.ErrUnsafeEntry),
		},
	}
}
