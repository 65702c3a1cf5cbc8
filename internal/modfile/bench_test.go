package modfile

import (
	"bufio"
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/gokmod/modprobe/internal/testmod"
)

// benchFormats are the files BenchmarkDecompress decodes: the module
// compressed as kbuild's scripts/Makefile.modinst does (gzip -n -f; xz
// --check=crc32 --lzma2=dict=1MiB; zstd -q, level 3), and, as "xz-mt",
// as xz 5.6 and later compress by default (multi-threaded, so in blocks
// of 3 MiB, three times the dictionary).
var benchFormats = []struct {
	name, suffix, tool string
	args               []string
}{
	{"gzip", ".ko.gz", "gzip", []string{"-n", "-f", "-k"}},
	{"xz", ".ko.xz", "xz", []string{"--check=crc32", "--lzma2=dict=1MiB", "-f", "-k"}},
	{"xz-mt", ".mt.ko.xz", "xz", []string{"-T2", "--check=crc32", "--lzma2=dict=1MiB", "-f", "-k"}},
	{"zstd", ".ko.zst", "zstd", []string{"-q", "-f", "-k"}},
}

// largestModule returns the path of the largest .ko file of the Debian
// kernel tree.
func largestModule(tb testing.TB) string {
	root, release := testmod.DebianTree(tb)
	var best string
	var bestSize int64
	dir := filepath.Join(testmod.ModuleDir(root, release), "kernel")
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".ko") {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Size() > bestSize {
			best, bestSize = p, fi.Size()
		}
		return nil
	})
	if err != nil || best == "" {
		tb.Fatalf("no module under %s: %v", dir, err)
	}
	return best
}

// benchCacheDir is where scripts/bench-decompress.sh keeps its files.
const benchCacheDir = "../../.cache/bench-decompress"

// benchFiles returns the uncompressed module and the directory holding
// its compressed forms, named module.ko plus each benchFormats suffix.
// GOKMOD_BENCH_DECOMPRESS_DIR names a directory already prepared that
// way; otherwise scripts/bench-decompress.sh's directory is used when it
// holds the largest module of the Debian tree, else that module is
// compressed into a temporary directory (xz takes about 15 seconds).
func benchFiles(b *testing.B) (module []byte, dir string) {
	b.Helper()
	if dir = os.Getenv("GOKMOD_BENCH_DECOMPRESS_DIR"); dir == "" {
		src := largestModule(b)
		data, err := os.ReadFile(src)
		if err != nil {
			b.Fatal(err)
		}
		if cached, err := os.ReadFile(filepath.Join(benchCacheDir, "module.ko")); err == nil && bytes.Equal(cached, data) {
			return data, benchCacheDir
		}
		dir = b.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "module.ko"), data, 0o644); err != nil {
			b.Fatal(err)
		}
		for _, f := range benchFormats {
			tool := testmod.RequireTool(b, f.tool)
			dst := filepath.Join(dir, "module"+f.suffix)
			cmd := exec.Command(tool, append(f.args, "-c", filepath.Join(dir, "module.ko"))...)
			out, err := cmd.Output()
			if err != nil {
				b.Fatalf("%s: %v", cmd, err)
			}
			if err := os.WriteFile(dst, out, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("module %s (%d bytes)", src, len(data))
	}
	module, err := os.ReadFile(filepath.Join(dir, "module.ko"))
	if err != nil {
		b.Fatal(err)
	}
	return module, dir
}

// BenchmarkDecompress decodes a large real module from a file, as the
// loader does: MB/s is of decompressed output.
func BenchmarkDecompress(b *testing.B) {
	module, dir := benchFiles(b)
	for _, f := range benchFormats {
		b.Run(f.name, func(b *testing.B) {
			file, err := os.Open(filepath.Join(dir, "module"+f.suffix))
			if err != nil {
				b.Fatal(err)
			}
			defer file.Close()
			fi, err := file.Stat()
			if err != nil {
				b.Fatal(err)
			}
			head := make([]byte, 6)
			if _, err := file.ReadAt(head, 0); err != nil {
				b.Fatal(err)
			}
			c := Sniff(head)
			out, err := Decompress(file, fi.Size(), c, defaultMaxModuleSize)
			if err != nil || !bytes.Equal(out, module) {
				b.Fatalf("decompress %s: %d bytes, %v; want %d bytes", f.name, len(out), err, len(module))
			}
			b.SetBytes(int64(len(module)))
			cpu := cpuTime()
			for b.Loop() {
				if _, err := Decompress(file, fi.Size(), c, defaultMaxModuleSize); err != nil {
					b.Fatal(err)
				}
			}
			if cpu >= 0 {
				// CPU time of the process (every thread, so the garbage
				// collector and parallel xz blocks too): less sensitive
				// than wall time to other load on the machine.
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			}
			b.ReportMetric(float64(fi.Size()), "compressed-bytes")
		})
	}
}

// cpuTime returns the user and system CPU time of the process so far, in
// nanoseconds, or -1 when getrusage fails.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkDecompressXZReader is the reference for the xz path of
// decompress: the same kbuild-compressed module through ulikunitz/xz's
// own Reader with its defaults (an 8 MiB dictionary whatever the file's,
// the check through an io.TeeReader, a byte counter in front of every
// compressed byte) into io.ReadAll.
func BenchmarkDecompressXZReader(b *testing.B) {
	module, dir := benchFiles(b)
	file, err := os.Open(filepath.Join(dir, "module.ko.xz"))
	if err != nil {
		b.Fatal(err)
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(module)))
	for b.Loop() {
		r, err := xz.NewReader(bufio.NewReaderSize(io.NewSectionReader(file, 0, fi.Size()), 64<<10))
		if err != nil {
			b.Fatal(err)
		}
		out, err := io.ReadAll(r)
		if err != nil || len(out) != len(module) {
			b.Fatalf("%d bytes, %v", len(out), err)
		}
	}
}
