package adversarial_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/depmod"
	"github.com/gokmod/modprobe/internal/index"
	"github.com/gokmod/modprobe/internal/testmod"
)

// advBinTree writes a tree with aliases, dependencies, symbols and a
// builtin module, and indexes it with depmod, so that every .bin exists.
func advBinTree(t *testing.T) *advEnv {
	t.Helper()
	e := advTree(t)
	tree := testmod.Tree{
		Release: advRelease,
		Modules: []testmod.TreeModule{
			{RelPath: "kernel/a.ko", Module: &testmod.Module{Name: "a", Exports: []string{"a_fn"},
				ModInfo: append(testmod.StandardModInfo("a", testmod.DefaultVermagic(advRelease)), testmod.Alias("pci:v0001d*"))}},
			{RelPath: "kernel/b.ko", Module: &testmod.Module{Name: "b", Uses: []string{"a_fn"},
				ModInfo: append(testmod.StandardModInfo("b", testmod.DefaultVermagic(advRelease), "a"), testmod.Alias("usb:v*"))}},
			{RelPath: "kernel/c.ko", Module: &testmod.Module{Name: "c",
				ModInfo: append(testmod.StandardModInfo("c", testmod.DefaultVermagic(advRelease)), testmod.Alias("pci:v*"))}},
		},
		Builtin: []string{"kernel/bi.ko"},
	}
	if err := os.RemoveAll(e.dir); err != nil {
		t.Fatal(err)
	}
	if _, err := tree.Write(e.root); err != nil {
		t.Fatal(err)
	}
	if err := depmod.Run(context.Background(), depmod.Options{BaseDir: e.root, Release: advRelease, ConfigPaths: []string{}}); err != nil {
		t.Fatal(err)
	}
	// The text files must not stand in for a broken .bin.
	for _, f := range []string{"modules.dep", "modules.alias", "modules.symbols", "modules.builtin", "modules.builtin.modinfo"} {
		if err := os.Remove(filepath.Join(e.dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	return e
}

// advBinNames are the names the index cases resolve.
var advBinNames = []string{"a", "b", "c", "bi", "pci:v0001d0002", "pci:v0003", "usb:v1", "symbol:a_fn", "zz"}

// advProbeIndexes looks up and plans every name of advBinNames with a
// fresh Loader; with load, it loads b and pci:v0001d0002 too. Errors other
// than "not found" are returned; a degraded result is fine. It returns
// how many lookups found something.
func advProbeIndexes(ctx context.Context, t *testing.T, e *advEnv, load bool) (int, error) {
	l, err := modprobe.Open(e.k.Options(modprobe.Options{
		RootDir: e.root, KernelRelease: advRelease, ConfigPaths: []string{},
		Logger: slog.New(advHandler{e.log}),
	}))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	var errs []error
	keep := func(err error) {
		if err != nil && !errors.Is(err, modprobe.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	found := 0
	for _, n := range advBinNames {
		mods, err := l.Lookup(ctx, n)
		if len(mods) > 0 {
			found++
		}
		keep(err)
		_, err = l.Plan(ctx, n, nil, modprobe.PlanOptions{IgnoreLoaded: true})
		keep(err)
	}
	if load {
		for _, n := range []string{"b", "pci:v0001d0002"} {
			err := l.Load(ctx, n)
			// A corrupt dep index may drop b's dependency: the fake
			// kernel then refuses b (Unknown symbol), as Linux would.
			if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOEXEC) {
				err = nil
			}
			keep(err)
		}
	}
	return found, errors.Join(errs...)
}

// advCorruptBin returns a case that runs advProbeIndexes on every variant
// of one .bin file that corrupt returns.
func advCorruptBin(name, file string, load bool, corrupt func(orig []byte) [][]byte) advCase {
	return advCase{
		name: name, category: "index",
		setup: func(t *testing.T, n int) *advEnv {
			e := advBinTree(t)
			orig, err := os.ReadFile(filepath.Join(e.dir, file))
			if err != nil {
				t.Fatal(err)
			}
			e.vals["orig"] = string(orig)
			return e
		},
		act: func(ctx context.Context, t *testing.T, e *advEnv) error {
			// The intact indexes resolve every name but "zz": the cases
			// below start from a tree that works.
			if found, err := advProbeIndexes(ctx, t, e, false); found != len(advBinNames)-1 || err != nil {
				return fmt.Errorf("intact indexes: %d names found, %v", found, err)
			}
			path := filepath.Join(e.dir, file)
			var errs []error
			total, variants := 0, corrupt([]byte(e.vals["orig"]))
			for i, v := range variants {
				if err := os.WriteFile(path, v, 0o644); err != nil {
					return err
				}
				found, err := advProbeIndexes(ctx, t, e, load)
				if err != nil {
					errs = append(errs, fmt.Errorf("variant %d: %w", i, err))
				}
				total += found
			}
			e.vals["found"] = fmt.Sprintf("%d of %d lookups found something", total, len(variants)*len(advBinNames))
			return errors.Join(errs...)
		},
		want:       advNoError(),
		anyInserts: true,
		writes:     []string{"lib/modules/" + advRelease + "/" + file},
		post: func(t *testing.T, e *advEnv) {
			t.Log(e.vals["found"])
			// Whatever a corrupt index says, only the tree's modules,
			// from the tree's files, reached the kernel.
			for _, in := range e.k.Inserts() {
				if in.Err == nil && (!slices.Contains([]string{"a", "b", "c"}, in.Module) || !strings.HasPrefix(in.File, e.dir+"/kernel/")) {
					t.Errorf("inserted %+v", in)
				}
			}
		},
	}
}

// advTruncations returns the file cut at every eighth of its length.
func advTruncations(orig []byte) [][]byte {
	var out [][]byte
	for i := range 8 {
		out = append(out, orig[:len(orig)*i/8])
	}
	return out
}

// advBitFlips returns n copies of the file with 1 to 4 bits flipped at
// random offsets, from a fixed seed.
func advBitFlips(seed int64, n int) func(orig []byte) [][]byte {
	return func(orig []byte) [][]byte {
		rng := rand.New(rand.NewSource(seed))
		var out [][]byte
		for range n {
			v := slices.Clone(orig)
			for range 1 + rng.Intn(4) {
				v[rng.Intn(len(v))] ^= 1 << rng.Intn(8)
			}
			out = append(out, v)
		}
		return out
	}
}

// advCyclicIndex returns a kmod index whose root has children 'a'..'z'
// that all point back at the root, which holds the value "a": every key
// over a-z exists, to any depth.
func advCyclicIndex() []byte {
	const root = 12
	w := uint32(0x20000000 | 0x40000000 | root) // children, values
	b := binary.BigEndian.AppendUint32(nil, index.Magic)
	b = binary.BigEndian.AppendUint32(b, index.VersionMajor<<16|index.VersionMinor)
	b = binary.BigEndian.AppendUint32(b, w)
	b = append(b, 'a', 'z')
	for range 26 {
		b = binary.BigEndian.AppendUint32(b, w)
	}
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = append(b, "kernel/a.ko:\x00"...)
	return b
}

func advIndexCases() []advCase {
	const cat = "index"
	notRegular := func(name string, mk func(t *testing.T, e *advEnv, path string)) advCase {
		return advCase{
			name: name, category: cat, timeout: time.Second,
			setup: func(t *testing.T, n int) *advEnv {
				e := advBinTree(t)
				p := filepath.Join(e.dir, "modules.dep.bin")
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				mk(t, e, p)
				return e
			},
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				l, err := e.loader(t)
				if err != nil {
					return err
				}
				return l.Load(ctx, "a")
			},
			// Without a usable modules.dep.bin (nor the text file, which
			// advBinTree removes), a cannot be found; the index is
			// reported, not waited on.
			want: advIs(modprobe.ErrNotFound),
		}
	}
	return []advCase{
		advCorruptBin("modules.dep.bin truncated at each eighth", "modules.dep.bin", true, advTruncations),
		advCorruptBin("modules.alias.bin truncated at each eighth", "modules.alias.bin", true, advTruncations),
		advCorruptBin("modules.symbols.bin truncated at each eighth", "modules.symbols.bin", false, advTruncations),
		advCorruptBin("modules.builtin.bin truncated at each eighth", "modules.builtin.bin", false, advTruncations),
		advCorruptBin("modules.dep.bin bit-flipped", "modules.dep.bin", false, advBitFlips(1, 64)),
		advCorruptBin("modules.alias.bin bit-flipped", "modules.alias.bin", false, advBitFlips(2, 64)),
		advCorruptBin("modules.symbols.bin bit-flipped", "modules.symbols.bin", false, advBitFlips(3, 64)),
		advCorruptBin("modules.builtin.bin bit-flipped", "modules.builtin.bin", false, advBitFlips(4, 64)),
		{
			// Child pointers forming cycles: every walk is bounded by the
			// file's size, so lookups end with few results.
			name: "cyclic .bin tries", category: cat,
			setup: func(t *testing.T, n int) *advEnv {
				e := advBinTree(t)
				for _, f := range []string{"modules.dep.bin", "modules.alias.bin", "modules.symbols.bin"} {
					e.writeFile(t, f, string(advCyclicIndex()))
				}
				return e
			},
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				l, err := e.loader(t)
				if err != nil {
					return err
				}
				var errs []error
				for _, n := range []string{"a", strings.Repeat("a", 5000), "abcxyz", "pci:*", "a*", "*"} {
					mods, err := l.Lookup(ctx, n)
					if err != nil && !errors.Is(err, modprobe.ErrNotFound) && !errors.Is(err, modprobe.ErrBadName) {
						errs = append(errs, err)
					}
					if len(mods) > 100 {
						errs = append(errs, fmt.Errorf("%q: %d modules", n, len(mods)))
					}
				}
				return errors.Join(errs...)
			},
			want: advNoError(),
		},
		notRegular("modules.dep.bin is a FIFO", func(t *testing.T, e *advEnv, p string) { e.fifo(t, p) }),
		notRegular("modules.dep.bin is a directory", func(t *testing.T, e *advEnv, p string) {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}),
		{
			// Without a .bin, the text modules.dep is read, but only from a
			// regular file: a FIFO is logged and skipped, not waited on.
			name: "text modules.dep is a FIFO", category: cat, timeout: time.Second,
			setup: func(t *testing.T, n int) *advEnv {
				e := advPlain(t)
				if err := os.Remove(filepath.Join(e.dir, "modules.dep")); err != nil {
					t.Fatal(err)
				}
				e.fifo(t, filepath.Join(e.dir, "modules.dep"))
				return e
			},
			act:  func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, "a") },
			want: advIs(modprobe.ErrNotFound),
		},
	}
}
