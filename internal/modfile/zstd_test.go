package modfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/gokmod/modprobe/internal/testmod"
)

// TestXXHash64 checks the hash against the reference vectors of XXH64
// with seed 0, and every input length from 0 to 200 against zstd's own
// content checksums (which decoding verifies).
func TestXXHash64(t *testing.T) {
	for in, want := range map[string]uint64{
		"":    0xef46db3751d8e999,
		"a":   0xd24ec4f1a98c6e5b,
		"abc": 0x44bc2cf5ad770999,
		"Nobody inspects the spammish repetition": 0xfbcea83c8a378bf1,
	} {
		if got := xxhash64([]byte(in)); got != want {
			t.Errorf("xxhash64(%q) = %#x, want %#x", in, got, want)
		}
	}
	data := payloads(t)["elf"]
	checked := 0
	for n := 0; n <= 200; n++ {
		file := testmod.MustCompress(t, data[:n], testmod.Zstd)
		if file[4]&4 == 0 {
			continue // no checksum (the encoder writes none for no data)
		}
		checked++
		sum := binary.LittleEndian.Uint32(file[len(file)-4:])
		if got := uint32(xxhash64(data[:n])); got != sum {
			t.Errorf("xxhash64 of %d bytes: %08x, the encoder wrote %08x", n, got, sum)
		}
	}
	if checked < 200 {
		t.Errorf("%d of 201 frames with a checksum", checked)
	}
}

// zstdOracle decodes file with klauspost/compress's decoder.
func zstdOracle(t testing.TB, file []byte) ([]byte, error) {
	t.Helper()
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdMaxWindow), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	return d.DecodeAll(file, nil)
}

// zstdCLI decodes file with the zstd command.
func zstdCLI(t testing.TB, file []byte) []byte {
	t.Helper()
	out, err := zstdCLIDecode(t, file)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// zstdCLIDecode decodes file with the zstd command (libzstd).
func zstdCLIDecode(t testing.TB, file []byte) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(testmod.RequireTool(t, "zstd"), "-d", "-q", "-c")
	cmd.Stdin = bytes.NewReader(file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("zstd -dc: %w: %s", err, stderr.String())
	}
	return out, nil
}

// checkZstd decodes file, whose content is want, with Decompress, and
// checks it against want, klauspost's decoder and, when cli is set, the
// zstd command.
func checkZstd(t *testing.T, name string, file, want []byte, cli bool) {
	t.Helper()
	got, err := decompressBytes(file, 1<<30)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: %d bytes, differing from the %d bytes compressed", name, len(got), len(want))
	}
	if oracle, err := zstdOracle(t, file); err != nil || !bytes.Equal(oracle, got) {
		t.Errorf("%s: klauspost's decoder: %d bytes, %v; ours %d bytes", name, len(oracle), err, len(got))
	}
	if cli && !bytes.Equal(zstdCLI(t, file), got) {
		t.Errorf("%s: zstd -dc differs", name)
	}
}

// debianModules returns the .ko files of the Debian 12 tree, sorted.
func debianModules(t *testing.T) []string {
	root, release := testmod.DebianTree(t)
	var mods []string
	err := filepath.WalkDir(filepath.Join(testmod.ModuleDir(root, release), "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".ko") {
			mods = append(mods, p)
		}
		return err
	})
	if err != nil || len(mods) < 1000 {
		t.Fatalf("%d modules in the Debian tree: %v", len(mods), err)
	}
	slices.Sort(mods)
	return mods
}

// TestZstdDebianModules compresses modules of Debian 12's tree as kbuild
// does (scripts/Makefile.modinst: zstd -T0 --rm -f -q, level 3, from the
// file: content size and checksum in the header) and decodes them: the
// output must be the module, and what klauspost's decoder gives. Every
// 16th module and the 8 largest by default (about 260, some 30 MB);
// GOKMOD_ZSTD_ALL=1 takes all of them.
func TestZstdDebianModules(t *testing.T) {
	mods := debianModules(t)
	sample := mods
	if os.Getenv("GOKMOD_ZSTD_ALL") == "" {
		sample = nil
		for i := 0; i < len(mods); i += 16 {
			sample = append(sample, mods[i])
		}
		bySize := slices.Clone(mods)
		size := func(p string) int64 {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			return fi.Size()
		}
		sizes := map[string]int64{}
		for _, p := range bySize {
			sizes[p] = size(p)
		}
		slices.SortFunc(bySize, func(a, b string) int { return int(sizes[b] - sizes[a]) })
		for _, p := range bySize[:8] {
			if !slices.Contains(sample, p) {
				sample = append(sample, p)
			}
		}
	}
	// One zstd process for the lot: modules of the same name in two
	// directories go to separate batches.
	dir := t.TempDir()
	var batches [][]string
	seen := map[string]int{}
	for _, p := range sample {
		b := seen[filepath.Base(p)]
		seen[filepath.Base(p)]++
		for len(batches) <= b {
			batches = append(batches, nil)
		}
		batches[b] = append(batches[b], p)
	}
	zstdTool := testmod.RequireTool(t, "zstd")
	total := 0
	for i, batch := range batches {
		out := filepath.Join(dir, fmt.Sprint(i))
		// zstd 1.5.4 crashes when the directory does not exist.
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(zstdTool, append([]string{"-T0", "-f", "-q", "--output-dir-flat", out}, batch...)...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("zstd -T0 -f -q --output-dir-flat %s (%d files): %v\n%s", out, len(batch), err, msg)
		}
		for _, p := range batch {
			want, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			file, err := os.ReadFile(filepath.Join(out, filepath.Base(p)+".zst"))
			if err != nil {
				t.Fatal(err)
			}
			checkZstd(t, p, file, want, false)
			total += len(want)
		}
	}
	t.Logf("%d modules, %d MB", len(sample), total>>20)
}

// TestZstdCLILevels decodes what the zstd command writes with other
// settings than kbuild's: levels, long distance matching, several
// threads (independent jobs), no checksum, no content size (a pipe),
// several frames and skippable frames; each checked against the input,
// zstd -dc and klauspost's decoder.
func TestZstdCLILevels(t *testing.T) {
	mods := debianModules(t)
	var big []byte
	for _, p := range mods {
		if b, err := os.ReadFile(p); err == nil && len(b) > 3<<20 {
			big = b
			break
		}
	}
	inputs := map[string][]byte{
		"elf":   payloads(t)["elf"],
		"text":  payloads(t)["text"],
		"big":   big,
		"empty": nil,
		"zeros": make([]byte, 300<<10),
	}
	settings := []struct {
		name string
		file bool
		args []string
	}{
		{"1", true, []string{"-1"}},
		{"3", true, []string{"-3"}},
		{"19", true, []string{"-19"}},
		{"ultra-22", true, []string{"--ultra", "-22"}},
		{"long", true, []string{"--long=27", "-5"}},
		{"T2-B", true, []string{"-T2", "-B1MiB", "-3"}},
		{"no-check", true, []string{"--no-check"}},
		{"no-content-size", true, []string{"--no-content-size"}},
		{"pipe", false, []string{"-3"}},
		{"pipe-19", false, []string{"-19"}},
		{"pipe-fast", false, []string{"--fast=5"}},
	}
	for name, in := range inputs {
		for _, s := range settings {
			if name == "big" && (s.name == "ultra-22" || s.name == "19" || s.name == "pipe-19") {
				continue // slow to compress; the Debian modules test takes -22 on small files
			}
			file := compressTool(t, "zstd", in, s.file, append([]string{"-q"}, s.args...)...)
			checkZstd(t, name+"/"+s.name, file, in, true)
		}
	}
	// Several frames, and skippable frames between and after them (a file
	// starting with one is not zstd to kmod, whose magic is a frame's).
	a, b := inputs["elf"], inputs["text"]
	fa := compressTool(t, "zstd", a, true, "-q", "-19")
	fb := compressTool(t, "zstd", b, false, "-q", "--no-check")
	skip := func(n int) []byte {
		f := binary.LittleEndian.AppendUint32([]byte{0x5a, 0x2a, 0x4d, 0x18}, uint32(n))
		return append(f, bytes.Repeat([]byte{0xee}, n)...)
	}
	both := slices.Concat(a, b)
	checkZstd(t, "frames", slices.Concat(fa, fb), both, true)
	checkZstd(t, "skippable", slices.Concat(fa, skip(0), skip(100), fb, skip(3)), both, true)
	checkZstd(t, "empty frames", slices.Concat(compressTool(t, "zstd", nil, true, "-q"), fa, compressTool(t, "zstd", nil, false, "-q")), a, true)
}

// TestZstdKbuildUltra decodes modules compressed at zstd's highest level,
// --ultra -22 (a 128 MiB window is declared on large inputs).
func TestZstdKbuildUltra(t *testing.T) {
	mods := debianModules(t)
	for i := 0; i < len(mods); i += len(mods) / 12 {
		want, err := os.ReadFile(mods[i])
		if err != nil {
			t.Fatal(err)
		}
		checkZstd(t, mods[i], compressTool(t, "zstd", want, true, "-q", "--ultra", "-22"), want, false)
	}
}

// TestZstdRefuses: frames this decoder refuses, with an error naming the
// format and saying why.
func TestZstdRefuses(t *testing.T) {
	empty := []byte{0x01, 0x00, 0x00} // last raw block of 0 bytes
	frame := func(header ...byte) []byte {
		return slices.Concat([]byte{0x28, 0xb5, 0x2f, 0xfd}, header, empty)
	}
	good := testmod.MustCompress(t, payloads(t)["elf"], testmod.Zstd)
	badSum := bytes.Clone(good)
	badSum[len(badSum)-1] ^= 1
	tests := []struct {
		name, file, want string
	}{
		{"dictionary", string(frame(0x21, 7, 0)), "needs dictionary 7"},
		{"dictionary 4 bytes", string(frame(0x23, 1, 2, 3, 4, 0)), "needs dictionary 67305985"},
		{"reserved bit", string(frame(0x28, 0)), "reserved bit"},
		{"window", string(frame(0x00, 0x90)), "window of 268435456 bytes over the limit"},
		{"reserved block", string(slices.Concat([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 0}, []byte{0x07, 0, 0})), "reserved block type"},
		{"checksum", string(badSum), "content checksum"},
		{"content size", string(slices.Concat([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x80, 0, 2, 0, 0, 0}, []byte{0x19, 0, 0}, []byte("abc"))), "content size of 2"},
		{"raw block over the window", string(slices.Concat([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00}, binary.LittleEndian.AppendUint32(nil, (1<<10+1)<<3|1)[:3], make([]byte, 1<<10+1))), "raw block of 1025 bytes over 1024"},
		{"truncated", string(good[:len(good)/2]), "unexpected EOF"},
	}
	for _, tt := range tests {
		_, err := decompressBytes([]byte(tt.file), 64<<20)
		if err == nil || !strings.HasPrefix(err.Error(), "zstd: ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want zstd: ... %s", tt.name, err, tt.want)
		}
	}
	_, err := decompressBytes(good[:len(good)/2], 64<<20)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated: %v, want io.ErrUnexpectedEOF", err)
	}
}

// FuzzZstdOracle decodes arbitrary bytes with this decoder and with
// klauspost/compress's: when ours succeeds, so must klauspost's, with the
// same output, or else libzstd's (the zstd command, the referee, run only
// then: klauspost's refuses some Huffman weight streams that libzstd
// accepts, testdata/fuzz/FuzzZstdOracle/997794cb5f358581). Ours may
// refuse more (a 4-stream literals section of fewer than 6 bytes, say),
// never panic, hang or exceed its limit.
func FuzzZstdOracle(f *testing.F) {
	data := payloads(f)["elf"]
	text := payloads(f)["text"]
	for _, s := range [][]byte{
		testmod.MustCompress(f, data[:3000], testmod.Zstd),
		testmod.MustCompress(f, text[:5000], testmod.Zstd),
		zstdStream(f, text[:2000]),
		zstdStream(f, data[:4000], zstd.WithSingleSegment(true), zstd.WithEncoderCRC(false)),
		zstdStream(f, bytes.Repeat([]byte("abcabd"), 500), zstd.WithEncoderLevel(zstd.SpeedBestCompression)),
		zstdStream(f, data[:500], zstd.WithEncoderLevel(zstd.SpeedFastest)),
		testmod.ZstdRLEFrame(1<<17, []byte{0x00, 0x38}),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		const limit = 1 << 20
		got, err := Decompress(bytes.NewReader(file), int64(len(file)), Zstd, limit)
		if err != nil {
			if got != nil {
				t.Fatalf("output with an error: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "zstd: ") && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %q does not name the format", err)
			}
			return
		}
		if len(got) > limit {
			t.Fatalf("%d bytes over the limit", len(got))
		}
		want, werr := zstdOracle(t, file)
		if werr == nil && bytes.Equal(got, want) {
			return
		}
		lib, lerr := zstdCLIDecode(t, file)
		if lerr != nil || !bytes.Equal(got, lib) {
			t.Fatalf("ours: %d bytes; klauspost's: %d bytes, %v; libzstd's: %d bytes, %v", len(got), len(want), werr, len(lib), lerr)
		}
	})
}

// BenchmarkDecompressZstdOracle decodes the module of BenchmarkDecompress
// with klauspost/compress's decoder (DecodeAll into a buffer of the
// output's size, as internal/modfile did before issue 15), for
// comparison with BenchmarkDecompress/zstd in one run.
func BenchmarkDecompressZstdOracle(b *testing.B) {
	module, dir := benchFiles(b)
	file, err := os.ReadFile(filepath.Join(dir, "module.ko.zst"))
	if err != nil {
		b.Fatal(err)
	}
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdMaxWindow))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	b.SetBytes(int64(len(module)))
	cpu := cpuTime()
	for b.Loop() {
		out, err := d.DecodeAll(file, make([]byte, 0, len(module)))
		if err != nil || len(out) != len(module) {
			b.Fatalf("%d bytes, %v", len(out), err)
		}
	}
	if cpu >= 0 {
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	}
}
