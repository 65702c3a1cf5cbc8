package kmodimage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe/modprobetest"
)

// TestConfigPathsStayInRoots: the paths of a worker configuration must be
// absolute clean paths, the firmware path must not be / nor overlap the
// kernel directory, and the kernel version must be one path element,
// with the rules Extract applies; the worker refuses such a
// configuration before changing anything.
func TestConfigPathsStayInRoots(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*ModuleConfig)
		errHas string
	}{
		{"dirName climbs", func(c *ModuleConfig) { c.Modprobe.DirName = "/opt/../../etc" }, `modprobe.dirName "/opt/../../etc" is not an absolute clean path`},
		{"dirName is ..", func(c *ModuleConfig) { c.Modprobe.DirName = "/.." }, `modprobe.dirName "/.." is not an absolute clean path`},
		{"dirName with //", func(c *ModuleConfig) { c.Modprobe.DirName = "//opt" }, "not an absolute clean path"},
		{"dirName with a trailing /", func(c *ModuleConfig) { c.Modprobe.DirName = "/opt/" }, "not an absolute clean path"},
		{"dirName with NUL", func(c *ModuleConfig) { c.Modprobe.DirName = "/opt\x00x" }, "not an absolute clean path"},
		{"firmwarePath climbs", func(c *ModuleConfig) { c.Modprobe.FirmwarePath = "/firmware/../../lib/firmware" }, `modprobe.firmwarePath "/firmware/../../lib/firmware" is not an absolute clean path`},
		{"firmwarePath is /", func(c *ModuleConfig) { c.Modprobe.FirmwarePath = "/" }, "modprobe.firmwarePath may not be /"},
		{"firmwarePath in the kernel directory", func(c *ModuleConfig) { c.Modprobe.FirmwarePath = "/opt/lib/modules/" + rel + "/fw" }, "overlaps the kernel directory"},
		{"firmwarePath above the kernel directory", func(c *ModuleConfig) { c.Modprobe.FirmwarePath = "/opt/lib" }, "overlaps the kernel directory"},
		{"kernelVersion climbs", func(c *ModuleConfig) { c.KernelVersion = "../../etc" }, `kernelVersion "../../etc" is not a single path element`},
		{"kernelVersion is ..", func(c *ModuleConfig) { c.KernelVersion = ".." }, "not a single path element"},
		{"no kernelVersion", func(c *ModuleConfig) { c.KernelVersion = "" }, `kernelVersion "" is not a single path element`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := config(tc.mutate)
			if err := c.Validate(); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("Validate: %v; want ErrConfig with %q", err, tc.errHas)
			}
			n := newNode(t)
			for _, run := range []func(context.Context, *ModuleConfig) error{n.w.Load, n.w.Unload} {
				if err := run(context.Background(), c); !errors.Is(err, ErrConfig) {
					t.Fatalf("worker: %v; want ErrConfig", err)
				}
			}
			n.nothingChanged(t)
		})
	}
}

// nothingChanged fails the test if the worker changed anything on the
// node: inserts, removals, firmware_class.path, the firmware directory,
// or its log.
func (n *node) nothingChanged(t *testing.T) {
	t.Helper()
	if len(n.k.Inserts()) != 0 || len(n.k.Removes()) != 0 || n.log != nil {
		t.Errorf("inserts %q, removes %q, log %q", n.inserts(), n.removes(), n.log)
	}
	if b, _ := os.ReadFile(n.fwParam); string(b) != "\n" {
		t.Errorf("firmware_class.path written: %q", b)
	}
	if _, err := os.Stat(n.fw); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the firmware directory was created: %v", err)
	}
}

// TestWorkerSymlinkOutOfSharedDir: a module directory or firmware path
// that a symbolic link in the shared directory sends elsewhere is refused
// before anything changes; in particular the worker does not index (write
// into) a module tree outside the shared directory, nor copy or remove
// firmware there.
func TestWorkerSymlinkOutOfSharedDir(t *testing.T) {
	// outside is a module tree without indexes and a firmware directory,
	// outside the shared directory.
	outside := func(t *testing.T) string {
		dir := t.TempDir()
		if _, err := modprobetest.WriteTree(filepath.Join(dir, "opt"), rel, modprobetest.Module{Name: "ice_oot"}); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, "opt/lib/modules", rel, "modules.dep")); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "firmware/secret.bin"), "host data")
		return dir
	}
	for _, tc := range []struct {
		name string
		link func(t *testing.T, n *node, out string) // replaces a path of the shared directory by a link
	}{
		{"dirName is a link", func(t *testing.T, n *node, out string) {
			relink(t, filepath.Join(out, "opt"), filepath.Join(n.shared, "opt"))
		}},
		{"kernel directory is a link", func(t *testing.T, n *node, out string) {
			relink(t, filepath.Join(out, "opt/lib/modules", rel), filepath.Join(n.shared, "opt/lib/modules", rel))
		}},
		{"relative link climbing out", func(t *testing.T, n *node, out string) {
			target, err := filepath.Rel(filepath.Join(n.shared, "opt/lib"), filepath.Join(out, "opt/lib/modules"))
			if err != nil {
				t.Fatal(err)
			}
			relink(t, target, filepath.Join(n.shared, "opt/lib/modules"))
		}},
		{"firmwarePath is a link", func(t *testing.T, n *node, out string) {
			relink(t, filepath.Join(out, "firmware"), filepath.Join(n.shared, "firmware"))
		}},
		{"the shared directory's parent through a link", func(t *testing.T, n *node, out string) {
			relink(t, out, filepath.Join(n.shared, "firmware"))
			n.cfgMutate = func(c *ModuleConfig) { c.Modprobe.FirmwarePath = "/firmware/firmware" }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			if err := n.k.Preload("ice"); err != nil {
				t.Fatal(err)
			}
			out := outside(t)
			tc.link(t, n, out)
			c := config(n.cfgMutate)
			for _, run := range []func(context.Context, *ModuleConfig) error{n.w.Load, n.w.Unload} {
				if err := run(context.Background(), c); !errors.Is(err, ErrOutsideRoot) {
					t.Fatalf("worker: %v; want ErrOutsideRoot", err)
				}
			}
			n.nothingChanged(t)
			if _, err := os.Stat(filepath.Join(out, "opt/lib/modules", rel, "modules.dep")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the worker indexed a tree outside the shared directory: %v", err)
			}
			if b, err := os.ReadFile(filepath.Join(out, "firmware/secret.bin")); err != nil || string(b) != "host data" {
				t.Errorf("firmware outside: %q %v", b, err)
			}
		})
	}
	// A link that stays inside the shared directory is fine.
	n := newNode(t)
	if err := os.Rename(filepath.Join(n.shared, "firmware"), filepath.Join(n.shared, "fw-real")); err != nil {
		t.Fatal(err)
	}
	relink(t, "fw-real", filepath.Join(n.shared, "firmware"))
	if err := n.w.Load(context.Background(), config(nil)); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(n.fw, "ice.bin")); err != nil || string(b) != "bin" {
		t.Errorf("firmware through an inner link: %q %v", b, err)
	}
}

// relink replaces path by a symbolic link to target.
func relink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

// TestFirmwareLinksStayInTree: a symbolic link in the firmware tree is
// copied only when its target stays in the tree; the worker checks that
// before anything changes.
func TestFirmwareLinksStayInTree(t *testing.T) {
	for _, tc := range []struct {
		target string
		ok     bool
	}{
		{"ice.bin", true},
		{"../ice.bin", true}, // from ice/, back to the top
		{"/etc/passwd", false},
		{"../../etc/passwd", false},
		{"../ice/../../x", false},
		{"", false},
	} {
		n := newNode(t)
		link := filepath.Join(n.shared, "firmware/ice/link")
		if tc.target != "" {
			relink(t, tc.target, link)
		} else if err := syscallMkfifo(link); err != nil { // not a link: a FIFO
			t.Fatal(err)
		}
		err := n.w.Load(context.Background(), config(nil))
		if tc.ok {
			if err != nil {
				t.Errorf("%q: %v", tc.target, err)
			} else if got, _ := os.Readlink(filepath.Join(n.fw, "ice/link")); got != tc.target {
				t.Errorf("%q: copied as %q", tc.target, got)
			}
			continue
		}
		if !errors.Is(err, ErrUnsafeEntry) || !strings.Contains(err.Error(), link) {
			t.Errorf("%q: %v; want ErrUnsafeEntry naming %s", tc.target, err, link)
		}
		n.nothingChanged(t)
		if err := CopyFirmware(filepath.Join(n.shared, "firmware"), n.fw); !errors.Is(err, ErrUnsafeEntry) {
			t.Errorf("%q: CopyFirmware: %v", tc.target, err)
		}
	}
}

func syscallMkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }

// TestCopyFileNotRegular copies a firmware file that a FIFO or a
// directory has replaced since the walk saw a file: the copy fails at
// once with ErrUnsafeEntry, as the walk would have, and writes nothing.
func TestCopyFileNotRegular(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(src, "fifo.bin"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(src, "dir.bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	from, err := os.OpenRoot(src)
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close()
	to, err := os.OpenRoot(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer to.Close()
	for _, rel := range []string{"fifo.bin", "dir.bin"} {
		if err := copyFile(from, to, rel); !errors.Is(err, ErrUnsafeEntry) || !strings.Contains(err.Error(), rel) {
			t.Errorf("copyFile(%s) = %v, want ErrUnsafeEntry naming it", rel, err)
		}
		if _, err := to.Lstat(rel); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s written: %v", rel, err)
		}
	}
}
