package kmodimage_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gokmod/modprobe/internal/registrytest"
	"github.com/gokmod/modprobe/kmodimage"
)

// cacheEntries returns the names in the cache's directory.
func cacheEntries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func TestCacheReuses(t *testing.T) {
	c := kmodimage.Cache{Dir: filepath.Join(t.TempDir(), "cache")}
	img := &countingImage{Image: registrytest.Image(t, baseLayer(), []entry{file("opt/lib/modules/6.2.0/x.ko", "x")})}
	dir, err := c.Extract(t.Context(), img, opts())
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, kdir, "extra/good.ko")); err != nil || string(b) != "good module" {
		t.Fatalf("cached module: %q, %v", b, err)
	}
	d, _ := img.Digest()
	if !strings.HasPrefix(filepath.Base(dir), d.Algorithm+"-"+d.Hex+"-") || filepath.Dir(dir) != c.Dir {
		t.Errorf("cache entry %s is not named by digest %s in %s", dir, d, c.Dir)
	}
	if n := img.layersCalls.Load(); n != 1 {
		t.Fatalf("first call read the layers %d times", n)
	}

	again, err := c.Extract(t.Context(), img, opts())
	if err != nil || again != dir {
		t.Fatalf("second call = %q, %v; want %q", again, err, dir)
	}
	// DirName "" and "/opt" are the same extraction; limits are not part
	// of the key.
	same := opts()
	same.DirName = "/opt"
	same.MaxFileSize = 1 << 20
	if again, err = c.Extract(t.Context(), img, same); err != nil || again != dir {
		t.Fatalf("equivalent options = %q, %v; want %q", again, err, dir)
	}
	if n := img.layersCalls.Load(); n != 1 {
		t.Errorf("cached calls read the layers: %d calls in all", n)
	}

	other := opts()
	other.KernelVersion = "6.2.0"
	odir, err := c.Extract(t.Context(), img, other)
	if err != nil {
		t.Fatal(err)
	}
	if odir == dir {
		t.Fatal("another kernel version got the same directory")
	}
	if _, err := os.Stat(filepath.Join(odir, "opt/lib/modules/6.2.0/x.ko")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(odir, kdir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the 6.2.0 entry holds %s: %v", kver, err)
	}
	fw := opts()
	fw.HostModules = "/host/lib/modules"
	if hdir, err := c.Extract(t.Context(), img, fw); err != nil || hdir == dir || hdir == odir {
		t.Errorf("HostModules did not get its own entry: %q, %v", hdir, err)
	}
	if n := img.layersCalls.Load(); n != 3 {
		t.Errorf("layers read %d times, want 3", n)
	}
	if got := cacheEntries(t, c.Dir); len(got) != 3 {
		t.Errorf("cache holds %q, want 3 entries and no temporary directories", got)
	}
}

func TestCacheReplacesIncomplete(t *testing.T) {
	c := kmodimage.Cache{Dir: t.TempDir()}
	img := &countingImage{Image: registrytest.Image(t, baseLayer())}
	dir, err := c.Extract(t.Context(), img, opts())
	if err != nil {
		t.Fatal(err)
	}
	// Make it look like an entry some crash left without its marker.
	if err := os.Remove(filepath.Join(dir, ".gokmod-cache-complete")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, kdir, "extra/good.ko"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := c.Extract(t.Context(), img, opts())
	if err != nil || again != dir {
		t.Fatalf("Extract = %q, %v; want %q", again, err, dir)
	}
	if n := img.layersCalls.Load(); n != 2 {
		t.Errorf("layers read %d times, want 2", n)
	}
	if b, err := os.ReadFile(filepath.Join(dir, kdir, "extra/good.ko")); err != nil || string(b) != "good module" {
		t.Errorf("module after re-extraction: %q, %v", b, err)
	}
	if got := cacheEntries(t, c.Dir); len(got) != 1 {
		t.Errorf("cache holds %q", got)
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := kmodimage.Cache{Dir: t.TempDir()}
	img := registrytest.Image(t, baseLayer())
	const n = 8
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dirs[i], errs[i] = c.Extract(t.Context(), img, opts()) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Errorf("call %d = %q, %v; want %q", i, dirs[i], errs[i], dirs[0])
		}
	}
	if got := cacheEntries(t, c.Dir); len(got) != 1 {
		t.Errorf("cache holds %q, want one entry", got)
	}
	if b, err := os.ReadFile(filepath.Join(dirs[0], kdir, "extra/good.ko")); err != nil || string(b) != "good module" {
		t.Errorf("module: %q, %v", b, err)
	}
}

func TestCacheErrors(t *testing.T) {
	c := kmodimage.Cache{Dir: t.TempDir()}
	bad := registrytest.Image(t, append(baseLayer(), symlink(kdir+"/x", "/etc")))
	if _, err := c.Extract(t.Context(), bad, opts()); !errors.Is(err, kmodimage.ErrUnsafeEntry) {
		t.Errorf("hostile image: %v, want ErrUnsafeEntry", err)
	}
	missing := opts()
	missing.KernelVersion = "9.9.9"
	if _, err := c.Extract(t.Context(), registrytest.Image(t, baseLayer()), missing); !errors.Is(err, kmodimage.ErrNotInImage) {
		t.Errorf("missing kernel: %v, want ErrNotInImage", err)
	}
	if got := cacheEntries(t, c.Dir); !slices.Equal(got, nil) {
		t.Errorf("failed extractions left %q", got)
	}
	if _, err := (kmodimage.Cache{}).Extract(t.Context(), bad, opts()); err == nil {
		t.Error("a cache without Dir worked")
	}
}
