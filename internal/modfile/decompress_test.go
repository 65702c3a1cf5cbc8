package modfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/gokmod/modprobe/internal/testmod"
)

func TestCompressionString(t *testing.T) {
	for c, want := range map[Compression]string{
		None: "none", Gzip: "gzip", XZ: "xz", Zstd: "zstd", 9: "compression(9)",
	} {
		if got := c.String(); got != want {
			t.Errorf("compression(%d).String() = %q, want %q", uint8(c), got, want)
		}
	}
}

func TestParseCompression(t *testing.T) {
	tests := []struct {
		in   string
		want Compression
		ok   bool
	}{
		{"zstd\n", Zstd, true},
		{"xz\n", XZ, true},
		{"gzip\n", Gzip, true},
		// libkmod compares the whole read with the newline.
		{"zstd", None, false},
		{"xz", None, false},
		{"gzip\n\n", None, false},
		{" gzip\n", None, false},
		{"none\n", None, false},
		{"lz4\n", None, false},
		{"", None, false},
	}
	for _, tt := range tests {
		got, ok := ParseCompression(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseCompression(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSniffCompression(t *testing.T) {
	tests := []struct {
		head string
		want Compression
	}{
		{"\x28\xb5\x2f\xfd\x00\x00", Zstd},
		{"\x28\xb5\x2f\xfd", Zstd},
		{"\xfd7zXZ\x00", XZ},
		{"\xfd7zXZ\x00\x00\x01", XZ},
		{"\x1f\x8b\x08\x00\x00\x00", Gzip},
		{"\x1f\x8b", Gzip},
		{"\x7fELF\x02\x01", None},
		// Short or nearly right heads.
		{"", None},
		{"\x1f", None},
		{"\x28\xb5\x2f", None},
		{"\xfd7zXZ", None},
		{"\xfd7zXZ\x01", None},
		{"\x28\xb5\x2f\xfe\x00\x00", None},
		{"\x1f\x8c\x08\x00\x00\x00", None},
		// Skippable zstd frame, lzma-alone, bzip2, lz4: not what libkmod knows.
		{"\x50\x2a\x4d\x18\x00\x00", None},
		{"\x5d\x00\x00\x80\x00\xff", None},
		{"BZh91AY", None},
		{"\x04\x22\x4d\x18\x00\x00", None},
	}
	for _, tt := range tests {
		if got := Sniff([]byte(tt.head)); got != tt.want {
			t.Errorf("sniffCompression(% x) = %v, want %v", tt.head, got, tt.want)
		}
	}
}

// payloads returns test inputs: a synthetic module, compressible
// pseudo-text, incompressible bytes, zeros and nothing.
func payloads(t testing.TB) map[string][]byte {
	t.Helper()
	elfImg, err := (&testmod.Module{
		Name:    "comp",
		ModInfo: testmod.StandardModInfo("comp", testmod.DefaultVermagic("6.1.0-test")),
		Exports: []string{"comp_a", "comp_b"},
	}).ELF()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 64<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	var text bytes.Buffer
	words := strings.Fields("module alias depends softdep vermagic license parm init exit symbol crc version")
	for text.Len() < 100<<10 {
		fmt.Fprintf(&text, "%s_%d=%s ", words[rng.IntN(len(words))], rng.IntN(5000), words[rng.IntN(len(words))])
	}
	return map[string][]byte{
		"elf":    elfImg,
		"text":   text.Bytes(),
		"random": random,
		"zeros":  make([]byte, 256<<10),
		"empty":  {},
	}
}

// compressTool runs a host compressor with data on its standard input, or
// when file is set on a temporary file holding data, and returns its
// standard output.
func compressTool(t testing.TB, tool string, data []byte, file bool, args ...string) []byte {
	t.Helper()
	path := testmod.RequireTool(t, tool)
	var cmd *exec.Cmd
	if file {
		in := filepath.Join(t.TempDir(), "in")
		if err := os.WriteFile(in, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(path, append(args, "-c", in)...)
	} else {
		cmd = exec.Command(path, append(args, "-c")...)
		cmd.Stdin = bytes.NewReader(data)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, stderr.String())
	}
	return out
}

// xzWriter compresses data with ulikunitz/xz and the given configuration.
func xzWriter(t testing.TB, data []byte, cfg xz.WriterConfig) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := cfg.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zstdStream compresses data as a streaming zstd writer does: no frame
// content size in the header.
func zstdStream(t testing.TB, data []byte, opts ...zstd.EOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf, append([]zstd.EOption{zstd.WithEncoderConcurrency(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decompressBytes runs decompress on an in-memory file.
func decompressBytes(data []byte, limit int64) ([]byte, error) {
	return Decompress(bytes.NewReader(data), int64(len(data)), Sniff(data), limit)
}

// encoding is one way of producing a compressed file.
type encoding struct {
	name string
	want Compression
	enc  func(t testing.TB, data []byte) []byte
}

// libEncodings compress with the Go libraries.
func libEncodings() []encoding {
	return []encoding{
		{"testmod-gzip", Gzip, func(t testing.TB, d []byte) []byte { return testmod.MustCompress(t, d, testmod.Gzip) }},
		{"testmod-xz-crc32", XZ, func(t testing.TB, d []byte) []byte { return testmod.MustCompress(t, d, testmod.Xz) }},
		{"testmod-xz-crc64", XZ, func(t testing.TB, d []byte) []byte { return testmod.MustCompress(t, d, testmod.XzCRC64) }},
		{"testmod-zstd", Zstd, func(t testing.TB, d []byte) []byte { return testmod.MustCompress(t, d, testmod.Zstd) }},
		{"xz-sha256-blocks", XZ, func(t testing.TB, d []byte) []byte {
			return xzWriter(t, d, xz.WriterConfig{CheckSum: xz.SHA256, BlockSize: 64 << 10})
		}},
		{"xz-none-check", XZ, func(t testing.TB, d []byte) []byte {
			return xzWriter(t, d, xz.WriterConfig{NoCheckSum: true})
		}},
		{"zstd-stream", Zstd, func(t testing.TB, d []byte) []byte { return zstdStream(t, d, zstd.WithEncoderCRC(true)) }},
		{"zstd-stream-nocrc", Zstd, func(t testing.TB, d []byte) []byte { return zstdStream(t, d, zstd.WithEncoderCRC(false)) }},
	}
}

// toolEncodings compress with the host's tools, as kbuild does and more.
func toolEncodings() []encoding {
	return []encoding{
		{"gzip-kbuild", Gzip, func(t testing.TB, d []byte) []byte { return compressTool(t, "gzip", d, true, "-n", "-f") }},
		{"gzip-9", Gzip, func(t testing.TB, d []byte) []byte { return compressTool(t, "gzip", d, false, "-n", "-9") }},
		{"xz-kbuild", XZ, func(t testing.TB, d []byte) []byte {
			return compressTool(t, "xz", d, true, "--check=crc32", "--lzma2=dict=1MiB")
		}},
		{"xz-default", XZ, func(t testing.TB, d []byte) []byte { return compressTool(t, "xz", d, false) }},
		{"xz-sha256", XZ, func(t testing.TB, d []byte) []byte { return compressTool(t, "xz", d, false, "--check=sha256", "-1") }},
		{"xz-none", XZ, func(t testing.TB, d []byte) []byte { return compressTool(t, "xz", d, false, "--check=none", "-0") }},
		{"xz-threads", XZ, func(t testing.TB, d []byte) []byte {
			return compressTool(t, "xz", d, true, "-T2", "--block-size=64KiB", "--check=crc32", "--lzma2=dict=1MiB")
		}},
		{"zstd-kbuild", Zstd, func(t testing.TB, d []byte) []byte { return compressTool(t, "zstd", d, true, "-q") }},
		{"zstd-19-pipe", Zstd, func(t testing.TB, d []byte) []byte { return compressTool(t, "zstd", d, false, "-q", "-19") }},
		{"zstd-ultra-22", Zstd, func(t testing.TB, d []byte) []byte {
			return compressTool(t, "zstd", d, true, "-q", "--ultra", "-22")
		}},
	}
}

func TestDecompressRoundTrip(t *testing.T) {
	data := payloads(t)
	for _, enc := range append(libEncodings(), toolEncodings()...) {
		t.Run(enc.name, func(t *testing.T) {
			for name, want := range data {
				comp := enc.enc(t, want)
				if got := Sniff(comp); got != enc.want {
					t.Fatalf("%s: sniffCompression = %v, want %v", name, got, enc.want)
				}
				got, err := decompressBytes(comp, 64<<20)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%s: output differs: got %d bytes, want %d", name, len(got), len(want))
				}
			}
		})
	}
}

// TestDecompressFile reads through an *os.File, as the loader does.
func TestDecompressFile(t *testing.T) {
	want := payloads(t)["text"]
	for _, enc := range libEncodings()[:4] {
		path := filepath.Join(t.TempDir(), "m.ko")
		if err := os.WriteFile(path, enc.enc(t, want), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decompress(f, fi.Size(), enc.want, 1<<20)
		f.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: decompress = %d bytes, %v; want %d bytes", enc.name, len(got), err, len(want))
		}
	}
}

func TestDecompressNone(t *testing.T) {
	want := []byte("\x7fELF plain module")
	got, err := Decompress(bytes.NewReader(want), int64(len(want)), None, int64(len(want)))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("decompress none = %q, %v", got, err)
	}
	if _, err := Decompress(bytes.NewReader(want), int64(len(want)), None, int64(len(want))-1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: err = %v, want ErrTooLarge", err)
	}
	if _, err := Decompress(bytes.NewReader(want), int64(len(want))+1, None, 100); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("file shorter than its size: err = %v, want io.ErrUnexpectedEOF", err)
	}
}

// TestDecompressConcatenated: kmod decodes every gzip member, xz stream
// and zstd frame of a file.
func TestDecompressConcatenated(t *testing.T) {
	d := payloads(t)
	a, b := d["elf"], d["text"]
	both := append(bytes.Clone(a), b...)
	zero4 := make([]byte, 4)
	skippable := []byte{0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'a', 'b', 'c'}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name string
		file []byte
		want []byte
	}{
		{"gzip members", cat(testmod.MustCompress(t, a, testmod.Gzip), testmod.MustCompress(t, b, testmod.Gzip)), both},
		{"gzip trailing garbage", cat(testmod.MustCompress(t, a, testmod.Gzip), []byte("garbage\x00\xff\xff\xff\x7f")), a},
		{"gzip trailing zeros", cat(testmod.MustCompress(t, a, testmod.Gzip), make([]byte, 1000)), a},
		{"gzip member then garbage", cat(testmod.MustCompress(t, a, testmod.Gzip), testmod.MustCompress(t, b, testmod.Gzip), []byte{0x1f}), both},
		{"gzip ISIZE hint too small", cat(testmod.MustCompress(t, b, testmod.Gzip), []byte{0, 1, 0, 0, 0}), b},
		{"xz streams", cat(testmod.MustCompress(t, a, testmod.Xz), testmod.MustCompress(t, b, testmod.XzCRC64)), both},
		{"xz streams padded", cat(testmod.MustCompress(t, a, testmod.Xz), zero4, zero4, testmod.MustCompress(t, b, testmod.Xz), zero4), both},
		{"xz empty stream", cat(testmod.MustCompress(t, nil, testmod.Xz), testmod.MustCompress(t, a, testmod.Xz)), a},
		{"zstd frames", cat(testmod.MustCompress(t, a, testmod.Zstd), testmod.MustCompress(t, b, testmod.Zstd)), both},
		{"zstd skippable frame", cat(testmod.MustCompress(t, a, testmod.Zstd), skippable, zstdStream(t, b)), both},
		{"zstd stream frames", cat(zstdStream(t, a), zstdStream(t, b)), both},
	}
	for _, tt := range tests {
		got, err := decompressBytes(tt.file, 64<<20)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !bytes.Equal(got, tt.want) {
			t.Errorf("%s: got %d bytes, want %d", tt.name, len(got), len(tt.want))
		}
	}
}

// TestDecompressRejects: what kmod's decoders refuse.
func TestDecompressRejects(t *testing.T) {
	a := payloads(t)["elf"]
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name string
		file []byte
		c    Compression
	}{
		{"xz trailing garbage", cat(testmod.MustCompress(t, a, testmod.Xz), []byte("junk")), XZ},
		{"xz padding not a multiple of 4", cat(testmod.MustCompress(t, a, testmod.Xz), []byte{0, 0}), XZ},
		{"xz second stream bad", cat(testmod.MustCompress(t, a, testmod.Xz), []byte("\xfd7zXZ\x00\x00\x01junkjunk")), XZ},
		{"zstd trailing garbage", cat(testmod.MustCompress(t, a, testmod.Zstd), []byte("junk")), Zstd},
		{"gzip header only", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, Gzip},
		{"xz magic only", []byte("\xfd7zXZ\x00"), XZ},
		{"zstd magic only", []byte{0x28, 0xb5, 0x2f, 0xfd}, Zstd},
		{"gzip not gzip", []byte("not gzip at all"), Gzip},
		{"xz not xz", []byte("not xz at all, really"), XZ},
		{"zstd not zstd", []byte("not zstd at all"), Zstd},
	}
	for _, tt := range tests {
		got, err := Decompress(bytes.NewReader(tt.file), int64(len(tt.file)), tt.c, 64<<20)
		if err == nil {
			t.Errorf("%s: decompress succeeded with %d bytes, want an error", tt.name, len(got))
			continue
		}
		if !strings.HasPrefix(err.Error(), tt.c.String()+": ") {
			t.Errorf("%s: error %q does not name the format", tt.name, err)
		}
	}
}

// TestDecompressXZFilters: LZMA2 alone is supported; kbuild writes nothing
// else.
func TestDecompressXZFilters(t *testing.T) {
	a := payloads(t)["elf"]
	comp := compressTool(t, "xz", a, false, "--x86", "--lzma2=preset=1")
	_, err := decompressBytes(comp, 64<<20)
	if err == nil || !strings.Contains(err.Error(), "unsupported filter 0x04") {
		t.Errorf("x86 BCJ filter: err = %v, want unsupported filter 0x04", err)
	}
}

// xzSetCheck rewrites the check type of a single-stream xz file's header
// and footer (with their CRC32s).
func xzSetCheck(file []byte, check byte) []byte {
	f := bytes.Clone(file)
	f[7] = check
	binary.LittleEndian.PutUint32(f[8:], crc32.ChecksumIEEE(f[6:8]))
	foot := f[len(f)-12:]
	foot[9] = check
	binary.LittleEndian.PutUint32(foot, crc32.ChecksumIEEE(foot[4:10]))
	return f
}

// TestDecompressXZReservedCheck: liblzma decodes a reserved check type
// (here 2, a 4-byte check) without verifying it, and so does decompress.
func TestDecompressXZReservedCheck(t *testing.T) {
	want := payloads(t)["elf"]
	file := xzSetCheck(testmod.MustCompress(t, want, testmod.Xz), 2)
	got, err := decompressBytes(file, 64<<20)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("reserved check: %d bytes, %v", len(got), err)
	}
	// A reserved check of another size does not fit the blocks.
	if _, err := decompressBytes(xzSetCheck(testmod.MustCompress(t, want, testmod.Xz), 5), 64<<20); err == nil {
		t.Error("check type 5 (8 bytes) on a CRC32 file: no error")
	}
}

// xzIndexUncompressed rewrites the uncompressed size in the index record
// of a single-block xz file from usize to usize+delta (same varint
// length), fixing up the index CRC32.
func xzIndexUncompressed(t *testing.T, file []byte, usize uint64, delta int) []byte {
	t.Helper()
	f := bytes.Clone(file)
	foot := f[len(f)-12:]
	indexSize := (int(binary.LittleEndian.Uint32(foot[4:])) + 1) * 4
	idx := f[len(f)-12-indexSize : len(f)-12]
	old := binary.AppendUvarint(nil, usize)
	repl := binary.AppendUvarint(nil, uint64(int64(usize)+int64(delta)))
	if len(old) != len(repl) {
		t.Fatalf("varint length changes")
	}
	i := bytes.LastIndex(idx[:len(idx)-4], old)
	if i < 0 {
		t.Fatalf("size not in index")
	}
	copy(idx[i:], repl)
	binary.LittleEndian.PutUint32(idx[len(idx)-4:], crc32.ChecksumIEEE(idx[:len(idx)-4]))
	return f
}

// TestDecompressLyingHints: size hints are only hints.
func TestDecompressLyingHints(t *testing.T) {
	want := payloads(t)["text"]
	xzFile := testmod.MustCompress(t, want, testmod.Xz)
	for _, delta := range []int{-1, 1, -1000} {
		file := xzIndexUncompressed(t, xzFile, uint64(len(want)), delta)
		if got, err := decompressBytes(file, 64<<20); err == nil {
			t.Errorf("xz index off by %d: decompress succeeded with %d bytes", delta, len(got))
		}
	}
	// zstd frame content size off by one, in a frame that states it in
	// 4 bytes.
	zst := testmod.MustCompress(t, want, testmod.Zstd)
	var h zstd.Header
	if err := h.Decode(zst); err != nil || !h.HasFCS || zst[4]>>6 != 2 {
		t.Fatalf("zstd header: %+v, %v", h, err)
	}
	for _, delta := range []int{-1, 1} {
		file := bytes.Clone(zst)
		binary.LittleEndian.PutUint32(file[h.HeaderSize-4:], uint32(len(want)+delta))
		if got, err := decompressBytes(file, 64<<20); err == nil {
			t.Errorf("zstd content size off by %d: decompress succeeded with %d bytes", delta, len(got))
		}
	}
	// gzip ISIZE: checked by the decoder; with trailing garbage it is
	// whatever the garbage says.
	gz := testmod.MustCompress(t, want, testmod.Gzip)
	for _, garbage := range [][]byte{{0xff, 0xff, 0xff, 0x7f}, {1, 0, 0, 0}, {0, 0, 0, 0}} {
		file := append(bytes.Clone(gz), garbage...)
		got, err := decompressBytes(file, int64(len(want)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("gzip with garbage % x: %d bytes, %v", garbage, len(got), err)
		}
	}
	lie := bytes.Clone(gz)
	binary.LittleEndian.PutUint32(lie[len(lie)-4:], uint32(len(want)+1))
	if _, err := decompressBytes(lie, 64<<20); err == nil {
		t.Error("gzip with a wrong ISIZE: no error")
	}
}

// TestDecompressLimit: output of exactly limit bytes is accepted, one
// byte more is ErrTooLarge, on every path (size hint or none, one block
// or several).
func TestDecompressLimit(t *testing.T) {
	want := payloads(t)["text"]
	n := int64(len(want))
	gzMembers := append(testmod.MustCompress(t, want[:n/2], testmod.Gzip), testmod.MustCompress(t, want[n/2:], testmod.Gzip)...)
	for _, enc := range append(libEncodings(), encoding{"gzip members", Gzip, func(testing.TB, []byte) []byte { return gzMembers }}) {
		comp := enc.enc(t, want)
		got, err := decompressBytes(comp, n)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: limit = size: %d bytes, %v", enc.name, len(got), err)
		}
		got, err = decompressBytes(comp, n-1)
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: limit = size-1: %d bytes, %v; want ErrTooLarge", enc.name, len(got), err)
		} else if !strings.Contains(err.Error(), fmt.Sprint(n-1)) {
			t.Errorf("%s: error %q does not name the limit", enc.name, err)
		}
		if _, err := decompressBytes(comp, 0); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: limit 0: %v; want ErrTooLarge", enc.name, err)
		}
	}
	// Empty output fits a zero limit.
	for _, enc := range libEncodings() {
		if got, err := decompressBytes(enc.enc(t, nil), 0); err != nil || len(got) != 0 {
			t.Errorf("%s: empty with limit 0: %d bytes, %v", enc.name, len(got), err)
		}
	}
}

// bombs returns files of 1 GiB of zeros in each format (bombsOf).
func bombs(t *testing.T) map[string][]byte { return bombsOf(t, 1<<30) }

// bombsOf returns files of total bytes of zeros (a multiple of 8 MiB) in
// each format, built without compressing them: the gzip member repeats
// one sync-flushed deflate segment (its back-references only ever see
// zeros), the zstd frames are RLE blocks, and the xz files repeat a
// stream of 8 MiB.
func bombsOf(t testing.TB, total int) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}

	// gzip: one member.
	var seg bytes.Buffer
	fw, err := flate.NewWriter(&seg, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	if _, err := fw.Write(zeros); err != nil {
		t.Fatal(err)
	}
	if err := fw.Flush(); err != nil {
		t.Fatal(err)
	}
	crc := uint32(0)
	for range total / len(zeros) {
		crc = crc32.Update(crc, crc32.IEEETable, zeros)
	}
	gz := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}
	gz = append(gz, bytes.Repeat(seg.Bytes(), total/len(zeros))...)
	gz = append(gz, 0x03, 0x00) // an empty final block
	gz = binary.LittleEndian.AppendUint32(gz, crc)
	gz = binary.LittleEndian.AppendUint32(gz, uint32(total&0xffffffff))
	out["gzip"] = gz

	// zstd: RLE blocks of 128 KiB, with and without a content size.
	// FHD 0x00: no content size, a window descriptor (0x38: 128 KiB).
	out["zstd"] = testmod.ZstdRLEFrame(total, []byte{0x00, 0x38})
	// FHD 0xc0: 8-byte content size after the window descriptor.
	out["zstd-fcs"] = testmod.ZstdRLEFrame(total, binary.LittleEndian.AppendUint64([]byte{0xc0, 0x38}, uint64(total)))
	// A content size of 1 MiB, under the limit, that the frame exceeds:
	// corrupt, so any error will do, but no more memory.
	out["zstd-fcs-lie"] = testmod.ZstdRLEFrame(total, binary.LittleEndian.AppendUint64([]byte{0xc0, 0x38}, 1<<20))

	out["xz"] = bytes.Repeat(xzZeros8M(t), total/(8<<20))
	xzBlocks := xzWriter(t, make([]byte, 8<<20), xz.WriterConfig{CheckSum: xz.CRC32, DictCap: 1 << 20, BlockSize: 1 << 20})
	out["xz-blocks"] = bytes.Repeat(xzBlocks, total/(8<<20))
	return out
}

// TestDecompressBombsValid checks that the bombs are well-formed by
// decoding them whole (5 GiB, most of a minute): only when the
// environment variable GOKMOD_BOMB_CHECK is set.
func TestDecompressBombsValid(t *testing.T) {
	if testing.Short() || os.Getenv("GOKMOD_BOMB_CHECK") == "" {
		t.Skip("set GOKMOD_BOMB_CHECK=1 to decode every bomb whole")
	}
	for name, file := range bombs(t) {
		got, err := decompressBytes(file, 1<<30)
		if err != nil || int64(len(got)) != 1<<30 || !allZero(got) {
			t.Errorf("%s: %d bytes, %v", name, len(got), err)
		}
	}
}

func TestDecompressBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 1 GiB bombs")
	}
	const limit = 4 << 20
	for name, file := range bombs(t) {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		got, err := decompressBytes(file, limit)
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		if name == "zstd-fcs-lie" {
			if err == nil {
				t.Errorf("%s: no error", name)
			}
		} else if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s (%d bytes): %d bytes, %v; want ErrTooLarge", name, len(file), len(got), err)
		}
		// The output buffer is at most the limit; decoders add their
		// windows and dictionaries.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
			t.Errorf("%s: allocated %d MiB for a %d MiB limit", name, alloc>>20, limit>>20)
		}
		if elapsed > 5*time.Second {
			t.Errorf("%s: took %v", name, elapsed)
		}
		t.Logf("%s: %d bytes compressed, rejected in %v: %v", name, len(file), elapsed, err)
	}
}

// corruptible returns, per format, files that carry a check over their
// data, so that corruption must either fail or change nothing.
func corruptible(t *testing.T) map[string][]byte {
	t.Helper()
	data := payloads(t)["elf"]
	small := payloads(t)["text"][:8000]
	return map[string][]byte{
		"gzip":            testmod.MustCompress(t, data, testmod.Gzip),
		"xz-crc32":        testmod.MustCompress(t, data, testmod.Xz),
		"xz-crc64":        testmod.MustCompress(t, small, testmod.XzCRC64),
		"xz-sha256-block": xzWriter(t, small, xz.WriterConfig{CheckSum: xz.SHA256, BlockSize: 4096}),
		"zstd":            testmod.MustCompress(t, data, testmod.Zstd),
		"zstd-stream":     zstdStream(t, small, zstd.WithEncoderCRC(true)),
	}
}

// corruptLimit is the limit for corrupted files: a little over their
// output, so that xz dictionaries and zstd windows stay small when the
// layout of a file cannot be read and its sizes are unknown.
const corruptLimit = 64 << 10

func TestDecompressTruncated(t *testing.T) {
	for name, file := range corruptible(t) {
		want, err := decompressBytes(file, corruptLimit)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c := Sniff(file)
		// Every cut near the headers and trailers, a sample in between.
		step := max(1, len(file)/400)
		for n := 0; n < len(file); n++ {
			if n > 80 && n < len(file)-80 && n%step != 0 {
				continue
			}
			got, err := Decompress(bytes.NewReader(file[:n]), int64(n), c, corruptLimit)
			if err == nil {
				t.Errorf("%s cut to %d of %d bytes: no error (%d bytes, full %d)", name, n, len(file), len(got), len(want))
				continue
			}
			if !strings.HasPrefix(err.Error(), c.String()+": ") {
				t.Errorf("%s cut to %d: error %q does not name the format", name, n, err)
			}
		}
		// The file claims more bytes than the reader has.
		if _, err := Decompress(bytes.NewReader(file[:len(file)/2]), int64(len(file)), c, corruptLimit); err == nil {
			t.Errorf("%s: short reader: no error", name)
		}
	}
	// The usual message for a file cut in its data.
	file := testmod.MustCompress(t, payloads(t)["text"], testmod.Xz)
	_, err := decompressBytes(file[:len(file)/2], 64<<20)
	if !errors.Is(err, io.ErrUnexpectedEOF) || err.Error() != "xz: unexpected EOF" {
		t.Errorf("xz cut in half: %v, want xz: unexpected EOF", err)
	}
}

func TestDecompressBitFlips(t *testing.T) {
	for name, file := range corruptible(t) {
		want, err := decompressBytes(file, corruptLimit)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		step := max(1, len(file)/300)
		for i := 0; i < len(file); i += step {
			for _, mask := range []byte{0x01, 0xff} {
				f := bytes.Clone(file)
				f[i] ^= mask
				got, err := Decompress(bytes.NewReader(f), int64(len(f)), Sniff(file), corruptLimit)
				if err == nil && !bytes.Equal(got, want) {
					t.Errorf("%s: byte %d ^ %#x: decoded %d wrong bytes without an error", name, i, mask, len(got))
				}
			}
		}
	}
}

// TestDecompressXZStreaming runs the xz decoder that reads from the front,
// used when the index at the end cannot be read (or the output is over
// the limit), on files the layout path would take.
func TestDecompressXZStreaming(t *testing.T) {
	d := payloads(t)
	a, b := d["elf"], d["text"]
	files := map[string][]byte{
		"crc32":        testmod.MustCompress(t, b, testmod.Xz),
		"crc64":        testmod.MustCompress(t, b, testmod.XzCRC64),
		"sha256-block": xzWriter(t, b, xz.WriterConfig{CheckSum: xz.SHA256, BlockSize: 16 << 10}),
		"none":         xzWriter(t, b, xz.WriterConfig{NoCheckSum: true}),
		"streams":      append(append(testmod.MustCompress(t, a, testmod.Xz), 0, 0, 0, 0), testmod.MustCompress(t, b, testmod.Xz)...),
		"empty":        testmod.MustCompress(t, nil, testmod.Xz),
	}
	for name, file := range files {
		want, err := decompressBytes(file, 64<<20)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		n := int64(len(want))
		got, err := xzStreamed(bytes.NewReader(file), int64(len(file)), n)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: limit = size: %d bytes, %v; want %d", name, len(got), err, n)
		}
		if n > 0 {
			if _, err := xzStreamed(bytes.NewReader(file), int64(len(file)), n-1); !errors.Is(err, ErrTooLarge) {
				t.Errorf("%s: limit = size-1: %v, want ErrTooLarge", name, err)
			}
		}
	}
	// Block headers that state their sizes, as xz -T writes them.
	file := compressTool(t, "xz", b, false, "-T2", "--block-size=20KiB", "--check=crc32", "-1")
	got, err := xzStreamed(bytes.NewReader(file), int64(len(file)), 64<<20)
	if err != nil || !bytes.Equal(got, b) {
		t.Errorf("xz -T2: %d bytes, %v", len(got), err)
	}
	if got, err := decompressBytes(file, 64<<20); err != nil || !bytes.Equal(got, b) {
		t.Errorf("xz -T2, layout: %d bytes, %v", len(got), err)
	}
}

// TestDecompressXZParallelError: a bad block among many fails, whichever
// worker meets it.
func TestDecompressXZParallelError(t *testing.T) {
	want := payloads(t)["text"]
	file := xzWriter(t, want, xz.WriterConfig{CheckSum: xz.CRC32, BlockSize: 16 << 10})
	got, err := decompressBytes(file, 64<<20)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("many blocks: %d bytes, %v", len(got), err)
	}
	for _, at := range []int{len(file) / 4, len(file) / 2, len(file) - 200} {
		f := bytes.Clone(file)
		f[at] ^= 0x55
		if _, err := decompressBytes(f, 64<<20); err == nil {
			t.Errorf("byte %d flipped: no error", at)
		}
	}
}

// FuzzDecompress feeds arbitrary files through sniffCompression and
// decompress with a small limit: no panic, and no output over the limit.
func FuzzDecompress(f *testing.F) {
	const limit = 1 << 20
	data := []byte("\x7fELF\x02\x01\x01 module text module text module text 0123456789")
	seeds := [][]byte{
		testmod.MustCompress(f, data, testmod.Gzip),
		testmod.MustCompress(f, data, testmod.Xz),
		testmod.MustCompress(f, data, testmod.XzCRC64),
		testmod.MustCompress(f, data, testmod.Zstd),
		xzWriter(f, bytes.Repeat(data, 200), xz.WriterConfig{CheckSum: xz.SHA256, BlockSize: 4096}),
		zstdStream(f, data),
		append(testmod.MustCompress(f, data, testmod.Gzip), testmod.MustCompress(f, data, testmod.Gzip)...),
		append(testmod.MustCompress(f, data, testmod.Xz), 0, 0, 0, 0),
		data,
	}
	for _, s := range seeds {
		f.Add(s)
		f.Add(s[:len(s)/2])
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		c := Sniff(file)
		out, err := Decompress(bytes.NewReader(file), int64(len(file)), c, limit)
		if err == nil && len(out) > limit {
			t.Fatalf("%v: %d bytes of output over the %d limit", c, len(out), limit)
		}
		if err != nil && out != nil {
			t.Fatalf("%v: output with an error: %v", c, err)
		}
	})
}
