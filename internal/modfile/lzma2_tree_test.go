package modfile

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/gokmod/modprobe/internal/testmod"
)

// debian13XZ returns the paths of every .ko.xz module of Debian 13's
// tree, sorted.
func debian13XZ(tb testing.TB) []string {
	tb.Helper()
	root, release := testmod.Debian13Tree(tb)
	var paths []string
	err := filepath.WalkDir(testmod.ModuleDir(root, release), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".ko.xz") {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no .ko.xz under Debian 13's tree %s: %v", root, err)
	}
	sort.Strings(paths)
	return paths
}

// ulikunitzXZ decodes file with ulikunitz/xz's Reader, the oracle.
func ulikunitzXZ(file []byte) ([]byte, error) {
	r, err := xz.NewReader(bytes.NewReader(file))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// forEachParallel runs f for every i in [0, n), on GOMAXPROCS
// goroutines.
func forEachParallel(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

// TestDecompressDebian13Modules: every module of Debian 13's tree (4230
// .ko.xz files, as Debian's kbuild compressed them) decodes to what
// ulikunitz/xz decodes. Under -race, or with -short, every 80th module
// and the largest; GOKMOD_XZ_ALL=1 takes all of them whatever the mode:
//
//	GOKMOD_XZ_ALL=1 go test -run 'TestDecompressDebian13Modules|TestDecompressXZSettings' ./internal/modfile
func TestDecompressDebian13Modules(t *testing.T) {
	paths := debian13XZ(t)
	if (raceEnabled || testing.Short()) && os.Getenv("GOKMOD_XZ_ALL") != "1" {
		paths = sampleWithLargest(t, paths, 80, 1)
	}
	var total atomic.Int64
	forEachParallel(len(paths), func(i int) {
		p := paths[i]
		file, err := os.ReadFile(p)
		if err != nil {
			t.Error(err)
			return
		}
		got, err := Decompress(bytes.NewReader(file), int64(len(file)), XZ, defaultMaxModuleSize)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return
		}
		want, err := ulikunitzXZ(file)
		if err != nil {
			t.Errorf("%s: ulikunitz/xz: %v", p, err)
			return
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes differ from ulikunitz/xz's %d", p, len(got), len(want))
		}
		total.Add(int64(len(got)))
	})
	t.Logf("%d modules, %d bytes decoded", len(paths), total.Load())
}

// sampleWithLargest returns every nth of paths and the largest files.
func sampleWithLargest(tb testing.TB, paths []string, nth, largest int) []string {
	tb.Helper()
	type sized struct {
		p string
		n int64
	}
	all := make([]sized, 0, len(paths))
	var out []string
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			tb.Fatal(err)
		}
		all = append(all, sized{p, fi.Size()})
		if i%nth == 0 {
			out = append(out, p)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	for _, s := range all[:min(largest, len(all))] {
		out = append(out, s.p)
	}
	return out
}

// BenchmarkDecompressDebian13 decodes every module of Debian 13's tree,
// read into memory beforehand, one after the other on one goroutine:
// MB/s and cpu-ns/B are of decompressed output; "ulikunitz" is the same
// through ulikunitz/xz's Reader.
func BenchmarkDecompressDebian13(b *testing.B) {
	paths := debian13XZ(b)
	files := make([][]byte, len(paths))
	var size int64
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		files[i] = data
		out, err := Decompress(bytes.NewReader(data), int64(len(data)), XZ, defaultMaxModuleSize)
		if err != nil {
			b.Fatalf("%s: %v", p, err)
		}
		size += int64(len(out))
	}
	for _, dec := range []struct {
		name string
		f    func([]byte) ([]byte, error)
	}{
		{"gokmod", func(f []byte) ([]byte, error) {
			return Decompress(bytes.NewReader(f), int64(len(f)), XZ, defaultMaxModuleSize)
		}},
		{"ulikunitz", ulikunitzXZ},
	} {
		b.Run(dec.name, func(b *testing.B) {
			b.SetBytes(size)
			cpu := cpuTime()
			for b.Loop() {
				for _, f := range files {
					if _, err := dec.f(f); err != nil {
						b.Fatal(err)
					}
				}
			}
			if cpu >= 0 {
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/float64(size), "cpu-ns/B")
			}
		})
	}
}
