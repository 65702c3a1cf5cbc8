package adversarial_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/modprobe/depmod"
	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/isula"
	"github.com/gokmod/modprobe/kmodimage"
	"github.com/gokmod/modprobe/modprobetest"
)

// advInputCases are the inputs other than modprobe's that a library
// caller hands gokmod by path or in memory (category "input"): KMM's
// worker configuration, the OCI hook's state and config.json, depmod's
// depmod.d, System.map, Module.symvers and module directory. Each is
// given as a FIFO without a writer (refused at once, no wait), as
// /dev/zero (cut at its bound, with an error) and over its bound; the
// memory bound is the text bound of the bytes read.
func advInputCases() []advCase {
	const cat = "input"
	// A file of the case's root linked to /dev/zero, or a FIFO there.
	zeroAt := func(name string) func(t *testing.T, n int) *advEnv {
		return func(t *testing.T, n int) *advEnv {
			e := advTree(t)
			if err := os.Symlink("/dev/zero", filepath.Join(e.root, name)); err != nil {
				t.Fatal(err)
			}
			return e
		}
	}
	fifoAt := func(name string) func(t *testing.T, n int) *advEnv {
		return func(t *testing.T, n int) *advEnv {
			e := advTree(t)
			e.fifo(t, filepath.Join(e.root, name))
			return e
		}
	}
	// A regular file of n bytes (sparse: zeros).
	sizedAt := func(name string) func(t *testing.T, n int) *advEnv {
		return func(t *testing.T, n int) *advEnv {
			e := advTree(t)
			f, err := os.Create(filepath.Join(e.root, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(int64(n)); err != nil {
				t.Fatal(err)
			}
			return e
		}
	}
	readConfig := func(ctx context.Context, t *testing.T, e *advEnv) error {
		_, err := kmodimage.ReadConfig(filepath.Join(e.root, "config.yaml"))
		return err
	}
	// depmod over the case's tree, with opts changed by set.
	depmodRun := func(set func(e *advEnv, o *depmod.Options)) func(ctx context.Context, t *testing.T, e *advEnv) error {
		return func(ctx context.Context, t *testing.T, e *advEnv) error {
			o := depmod.Options{BaseDir: e.root, Release: advRelease, ConfigPaths: []string{},
				Log: func(_ depmod.Level, msg string) { e.log.add(msg) }}
			set(e, &o)
			return depmod.Run(ctx, o)
		}
	}
	depmodTree := func(setup func(t *testing.T, n int) *advEnv) func(t *testing.T, n int) *advEnv {
		return func(t *testing.T, n int) *advEnv {
			e := setup(t, n)
			dir, err := modprobetest.WriteTree(e.root, advRelease, modprobetest.Module{Name: "a"})
			if err != nil {
				t.Fatal(err)
			}
			e.dir = dir
			e.k = nil
			return e
		}
	}
	indexes := []string{"lib/modules/" + advRelease + "/modules."}
	withConf := func(name string) func(e *advEnv, o *depmod.Options) {
		return func(e *advEnv, o *depmod.Options) { o.ConfigPaths = []string{filepath.Join(e.root, name)} }
	}
	withSystemMap := func(e *advEnv, o *depmod.Options) { o.SystemMap = filepath.Join(e.root, "System.map") }
	withSymvers := func(e *advEnv, o *depmod.Options) { o.Symvers = filepath.Join(e.root, "Module.symvers") }
	return []advCase{
		{
			name: "KMM worker config is a FIFO", category: cat, timeout: time.Second,
			setup: fifoAt("config.yaml"), act: readConfig,
			want: advAll(advIs(fs.ErrInvalid), advText("config.yaml")),
		},
		{
			name: "KMM worker config linked to /dev/zero", category: cat, size: kmodimage.MaxConfigSize, text: true,
			setup: zeroAt("config.yaml"), act: readConfig,
			want: advAll(advIs(kmodimage.ErrConfig), advText("config.yaml", "more than 2097152 bytes")),
		},
		{
			name: "KMM worker config over MaxConfigSize", category: cat, size: kmodimage.MaxConfigSize + 1, text: true,
			setup: sizedAt("config.yaml"), act: readConfig,
			want: advAll(advIs(kmodimage.ErrConfig), advText("config.yaml")),
		},
		{
			// In memory: refused before the YAML decoder sees it.
			name: "KMM worker config in memory over MaxConfigSize", category: cat, size: kmodimage.MaxConfigSize + 1, text: true,
			setup: withInput(func(n int) []string { return []string{"kernelVersion: " + strings.Repeat("x", n)} }),
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				_, err := kmodimage.ParseConfig([]byte(e.input[0]), "config.yaml")
				return err
			},
			want: advIs(kmodimage.ErrConfig),
		},
		{
			name: "OCI state over MaxInputSize", category: cat, size: isula.MaxInputSize + 1, text: true,
			setup: withInput(func(n int) []string { return []string{`{"bundle":"/` + strings.Repeat("b", n) + `"}`} }),
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				_, err := isula.ParseState([]byte(e.input[0]))
				return err
			},
			want: advIs(isula.ErrBadState),
		},
		{
			name: "OCI config.json over MaxInputSize", category: cat, size: isula.MaxInputSize + 1, text: true,
			setup: withInput(func(n int) []string { return []string{`{"process":{"env":["` + strings.Repeat("e", n) + `"]}}`} }),
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				_, err := isula.ParseSpecEnv([]byte(e.input[0]), "config.json")
				return err
			},
			want: advAll(advIs(isula.ErrBadState), advText("config.json")),
		},
		{
			// Reported and skipped, as a file depmod cannot open.
			name: "depmod.d file is a FIFO", category: cat, timeout: time.Second,
			setup: depmodTree(fifoAt("depmod.conf")), act: depmodRun(withConf("depmod.conf")),
			want: advNoError(), writes: indexes, post: advLogHas("file parse", "depmod.conf: Invalid argument"),
		},
		{
			name: "depmod.d file linked to /dev/zero", category: cat, size: 64 << 20, text: true,
			setup: depmodTree(zeroAt("depmod.conf")), act: depmodRun(withConf("depmod.conf")),
			want: advNoError(), writes: indexes, post: advLogHas("depmod.conf: File too large"),
		},
		{
			name: "System.map is a FIFO", category: cat, timeout: time.Second,
			setup: depmodTree(fifoAt("System.map")), act: depmodRun(withSystemMap),
			want: advIs(fs.ErrInvalid), post: advLogHas("could not load", "System.map: Invalid argument"),
		},
		{
			name: "System.map linked to /dev/zero", category: cat, size: 64 << 20, text: true,
			setup: depmodTree(zeroAt("System.map")), act: depmodRun(withSystemMap),
			want: advIs(fileio.ErrTooLarge), post: advLogHas("System.map: File too large"),
		},
		{
			name: "Module.symvers is a FIFO", category: cat, timeout: time.Second,
			setup: depmodTree(fifoAt("Module.symvers")), act: depmodRun(withSymvers),
			want: advIs(fs.ErrInvalid),
		},
		{
			name: "Module.symvers over the bound", category: cat, size: 64<<20 + 1, text: true,
			setup: depmodTree(sizedAt("Module.symvers")), act: depmodRun(withSymvers),
			want: advIs(fileio.ErrTooLarge),
		},
		{
			// opendir's ENOTDIR, not a wait for a writer in open(2).
			name: "module directory is a FIFO", category: cat, timeout: time.Second,
			setup: func(t *testing.T, n int) *advEnv {
				e := advTree(t)
				e.k = nil
				if err := os.RemoveAll(e.dir); err != nil {
					t.Fatal(err)
				}
				e.fifo(t, e.dir)
				return e
			},
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				if depmod.UpToDate(depmod.Options{BaseDir: e.root, Release: advRelease, Log: func(_ depmod.Level, msg string) { e.log.add(msg) }}) {
					t.Error("UpToDate: a FIFO module directory is up to date")
				}
				return depmodRun(func(*advEnv, *depmod.Options) {})(ctx, t, e)
			},
			want: advIs(syscall.ENOTDIR), post: advLogHas("could not open directory"),
		},
	}
}
