package modfile

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

// xzDC returns what xz-utils' "xz -dc" writes for file, and its error;
// warnings (an unsupported check type) are not errors.
func xzDC(t testing.TB, file []byte) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(testmod.RequireTool(t, "xz"), "-dcQ")
	cmd.Stdin = bytes.NewReader(file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, stderr.String())
	}
	return out, nil
}

// TestDecompressXZUtilsFiles decodes XZ Utils' own test files
// (testdata/xz-utils, see ORIGIN there): every good file whose filters
// are LZMA2 only decodes to what xz -dc writes; good files with other
// filters (delta, BCJ) are refused as unsupported; every bad file is
// refused, and so is every unsupported one but the reserved check type,
// which liblzma, as gokmod, decodes without verifying.
func TestDecompressXZUtilsFiles(t *testing.T) {
	paths, err := filepath.Glob("testdata/xz-utils/*.xz")
	if err != nil || len(paths) < 60 {
		t.Fatalf("%d test files: %v", len(paths), err)
	}
	for _, p := range paths {
		name := filepath.Base(p)
		file, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decompress(bytes.NewReader(file), int64(len(file)), XZ, 64<<20)
		otherFilter := strings.Contains(name, "delta") || strings.Contains(name, "arm64") || strings.Contains(name, "bcj")
		switch {
		case strings.HasPrefix(name, "good-") && otherFilter:
			if err == nil || !strings.Contains(err.Error(), "unsupported filter") {
				t.Errorf("%s: %d bytes, %v; want an unsupported filter", name, len(got), err)
			}
		case strings.HasPrefix(name, "good-") || name == "unsupported-check.xz":
			want, xerr := xzDC(t, file)
			if xerr != nil {
				t.Fatalf("%s: xz -dc: %v", name, xerr)
			}
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: %d bytes, %v; want xz -dc's %d bytes", name, len(got), err, len(want))
			}
		default:
			if err == nil || got != nil {
				t.Errorf("%s: %d bytes, no error; want an error", name, len(got))
			}
		}
	}
}

// xzSettings are the xz command lines TestDecompressXZSettings compresses
// with: kbuild's, every preset, extreme ones, lc/lp/pb variants, small
// dictionaries, multi-block files and every check type.
var xzSettings = [][]string{
	{"--check=crc32", "--lzma2=dict=1MiB"},
	{"-0"}, {"-1"}, {"-2"}, {"-3"}, {"-4"}, {"-5"}, {"-6"}, {"-7"}, {"-8"}, {"-9"},
	{"-0e"}, {"-6e"}, {"-9e"},
	{"--lzma2=preset=6,lc=0,lp=0,pb=0"},
	{"--lzma2=preset=6,lc=4,lp=0,pb=4"},
	{"--lzma2=preset=6,lc=0,lp=4,pb=2"},
	{"--lzma2=preset=6,lc=1,lp=3,pb=1"},
	{"--lzma2=preset=1,lc=2,lp=2,pb=3,mf=hc3,mode=fast"},
	{"--lzma2=dict=4KiB"},
	{"--lzma2=dict=4KiB,nice=273,mode=normal"},
	{"--lzma2=dict=64KiB,lc=4,pb=0,nice=8"},
	{"-T2", "--block-size=64KiB", "--check=crc32"},
	{"-T2", "--block-size=300KiB", "--check=crc64", "-3"},
	{"--block-size=100KiB", "-T1", "--check=sha256"},
	{"--block-list=1KiB,50KiB,3,64KiB", "--check=none"},
	{"--check=crc64"}, {"--check=sha256"}, {"--check=none"},
}

// debian12Modules returns every nth .ko of the Debian 12 tree and the
// largest ones, sorted by path.
func debian12Modules(t testing.TB, nth, largest int) []string {
	t.Helper()
	root, release := testmod.DebianTree(t)
	var paths []string
	err := filepath.WalkDir(filepath.Join(testmod.ModuleDir(root, release), "kernel"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".ko") {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil || len(paths) == 0 {
		t.Fatalf("no .ko under Debian 12's tree %s: %v", root, err)
	}
	return sampleWithLargest(t, paths, nth, largest)
}

// TestDecompressXZSettings compresses modules of Debian 12's tree (plain
// .ko) with xz-utils under each of xzSettings, in turn, and decodes them:
// the output is the module, which is what xz -dc writes, and what
// ulikunitz/xz decodes. Every 150th module, each with the next setting;
// with GOKMOD_XZ_ALL=1, every 8th and the 20 largest, those also with
// kbuild's setting and xz -T2's blocks (several hundred files, minutes of
// xz). Debian 13's largest modules, as kbuild compressed them, are in
// TestDecompressDebian13Modules.
func TestDecompressXZSettings(t *testing.T) {
	nth, largest := 150, 0
	if os.Getenv("GOKMOD_XZ_ALL") == "1" {
		nth, largest = 8, 20
	}
	paths := debian12Modules(t, nth, largest)
	xzPath := testmod.RequireTool(t, "xz")
	type job struct {
		path string
		args []string
	}
	var jobs []job
	for i, p := range paths[:len(paths)-largest] {
		jobs = append(jobs, job{p, xzSettings[i%len(xzSettings)]})
	}
	// kbuild's setting and a multi-block one for the largest modules too.
	for _, p := range paths[len(paths)-largest:] {
		jobs = append(jobs, job{p, xzSettings[0]}, job{p, xzSettings[len(xzSettings)-7]})
	}
	forEachParallel(len(jobs), func(i int) {
		j := jobs[i]
		module, err := os.ReadFile(j.path)
		if err != nil {
			t.Error(err)
			return
		}
		cmd := exec.Command(xzPath, append(append([]string{}, j.args...), "-c")...)
		cmd.Stdin = bytes.NewReader(module)
		file, err := cmd.Output()
		if err != nil {
			t.Errorf("xz %v %s: %v", j.args, j.path, err)
			return
		}
		got, err := Decompress(bytes.NewReader(file), int64(len(file)), XZ, defaultMaxModuleSize)
		if err != nil || !bytes.Equal(got, module) {
			t.Errorf("xz %v %s: %d bytes, %v; want the module's %d", j.args, j.path, len(got), err, len(module))
			return
		}
		if u, err := ulikunitzXZ(file); err != nil || !bytes.Equal(u, module) {
			t.Errorf("xz %v %s: ulikunitz/xz: %d bytes, %v", j.args, j.path, len(u), err)
		}
	})
	t.Logf("%d files decoded", len(jobs))
}

// TestDecompressXZCorruptChunks: LZMA2 chunk headers made wrong in each
// way the format can be are refused with errXZData, never a panic.
func TestDecompressXZCorruptChunks(t *testing.T) {
	data := payloads(t)["elf"]
	file := compressTool(t, "xz", data, false, "--check=crc32", "--lzma2=dict=1MiB")
	// The block header of xz's single-block file is 12 bytes after the
	// stream header: size byte 0x02, so the LZMA2 data starts at 24.
	const at = xzHeaderLen + 12
	if file[at] != 0xe0 {
		t.Fatalf("first LZMA2 control byte 0x%02x, want 0xe0", file[at])
	}
	for name, edit := range map[string]func(f []byte){
		"no dictionary reset":   func(f []byte) { f[at] = 0xc0 | f[at]&0x1f },
		"no properties":         func(f []byte) { f[at] = 0xa0 | f[at]&0x1f },
		"bad control":           func(f []byte) { f[at] = 0x03 },
		"bad properties":        func(f []byte) { f[at+5] = 225 },
		"lc+lp over 4":          func(f []byte) { f[at+5] = 3 + 2*9 },
		"uncompressed too long": func(f []byte) { f[at] = 0xff },
		"compressed too short":  func(f []byte) { f[at+3], f[at+4] = 0, 4 },
		"compressed too long":   func(f []byte) { f[at+3]++ },
		"range coder start":     func(f []byte) { f[at+6] = 1 },
		"end marker missing":    func(f []byte) { f[len(f)-xzFooterLen-8-4-1-3] = 1 },
	} {
		f := bytes.Clone(file)
		edit(f)
		got, err := Decompress(bytes.NewReader(f), int64(len(f)), XZ, 64<<20)
		if err == nil || got != nil {
			t.Errorf("%s: %d bytes, %v; want an error", name, len(got), err)
			continue
		}
		if !errors.Is(err, errXZData) && !errors.Is(err, errXZCheck) && !errors.Is(err, errXZIndex) {
			t.Logf("%s: %v", name, err)
		}
	}
}

// TestDecompressXZAllocs: decoding allocates per file, never per LZMA2
// chunk or symbol: a file of one chunk and one of dozens (6 MiB of text
// and incompressible data) take the same small number of allocations.
func TestDecompressXZAllocs(t *testing.T) {
	d := payloads(t)
	rng := rand.New(rand.NewPCG(3, 4))
	var big []byte
	for len(big) < 6<<20 {
		random := make([]byte, 64<<10)
		for i := range random {
			random[i] = byte(rng.Uint32())
		}
		big = append(append(big, d["text"]...), random...)
	}
	small := compressTool(t, "xz", d["elf"], false, "--check=crc32", "--lzma2=dict=1MiB")
	large := compressTool(t, "xz", big, false, "--check=crc32", "--lzma2=dict=1MiB")
	allocs := func(file []byte) float64 {
		return testing.AllocsPerRun(3, func() {
			if _, err := Decompress(bytes.NewReader(file), int64(len(file)), XZ, 64<<20); err != nil {
				t.Fatal(err)
			}
		})
	}
	a, b := allocs(small), allocs(large)
	if a != b || b > 16 {
		t.Errorf("%v allocations for one chunk, %v for %d KiB of compressed data; want the same, at most 16", a, b, len(large)>>10)
	}
}
