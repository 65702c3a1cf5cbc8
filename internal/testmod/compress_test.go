package testmod_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/gokmod/modprobe/internal/testmod"
)

// decompress undoes Compress with Go decoders.
func decompress(t *testing.T, data []byte, c testmod.Compression) []byte {
	t.Helper()
	var r io.Reader
	var err error
	switch c {
	case testmod.None:
		return data
	case testmod.Gzip:
		r, err = gzip.NewReader(bytes.NewReader(data))
	case testmod.Xz, testmod.XzCRC64, testmod.XzSHA256, testmod.XzNoCheck:
		r, err = xz.NewReader(bytes.NewReader(data))
	case testmod.Zstd:
		var d *zstd.Decoder
		d, err = zstd.NewReader(bytes.NewReader(data))
		if err == nil {
			defer d.Close()
			r = d
		}
	}
	if err != nil {
		t.Fatalf("%v reader: %v", c, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%v decode: %v", c, err)
	}
	return out
}

func TestCompressRoundTripAndRealTools(t *testing.T) {
	m := &testmod.Module{Name: "comp", ModInfo: []string{testmod.Alias("x")}, Exports: []string{"e"}}
	img, err := m.ELF()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx := context.Background()
	cases := []struct {
		c     testmod.Compression
		magic string
		tool  string
		check string // xz check type reported by xz --robot --list
	}{
		{testmod.None, "\x7fELF", "", ""},
		{testmod.Gzip, "\x1f\x8b", "gzip", ""},
		{testmod.Xz, "\xfd7zXZ\x00", "xz", "CRC32"},
		{testmod.XzCRC64, "\xfd7zXZ\x00", "xz", "CRC64"},
		{testmod.XzSHA256, "\xfd7zXZ\x00", "xz", "SHA-256"},
		{testmod.XzNoCheck, "\xfd7zXZ\x00", "xz", "None"},
		{testmod.Zstd, "\x28\xb5\x2f\xfd", "zstd", ""},
	}
	for _, tc := range cases {
		t.Run(tc.c.String(), func(t *testing.T) {
			out, err := testmod.Compress(img, tc.c)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(out, []byte(tc.magic)) {
				t.Errorf("output starts %q, want magic %q", out[:min(8, len(out))], tc.magic)
			}
			if got := decompress(t, out, tc.c); !bytes.Equal(got, img) {
				t.Errorf("round trip differs")
			}
			if tc.tool == "" {
				return
			}
			testmod.RequireTool(t, tc.tool)
			file := filepath.Join(dir, "m"+tc.c.Suffix()+"."+tc.c.String())
			if err := os.WriteFile(file, out, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := testmod.RunTool(ctx, tc.tool, "-q", "-t", file); err != nil {
				t.Errorf("%s -t: %v", tc.tool, err)
			}
			if tc.check != "" {
				list, err := testmod.RunTool(ctx, "xz", "--robot", "--list", file)
				if err != nil {
					t.Fatal(err)
				}
				var fileLine string
				for _, l := range strings.Split(list, "\n") {
					if strings.HasPrefix(l, "file\t") {
						fileLine = l
					}
				}
				if fields := strings.Split(fileLine, "\t"); len(fields) < 7 || fields[6] != tc.check {
					t.Errorf("xz --robot --list: %q, want check %s", fileLine, tc.check)
				}
			}
		})
	}
}

func TestCompressNoneCopies(t *testing.T) {
	in := []byte("abc")
	out, err := testmod.Compress(in, testmod.None)
	if err != nil {
		t.Fatal(err)
	}
	out[0] = 'X'
	if string(in) != "abc" {
		t.Errorf("Compress(None) aliases its input")
	}
	if _, err := testmod.Compress(in, testmod.Compression(42)); err == nil {
		t.Errorf("unknown compression accepted")
	}
}

func TestCompressionFromPath(t *testing.T) {
	for p, want := range map[string]testmod.Compression{
		"a.ko": testmod.None, "x/a.ko.gz": testmod.Gzip, "a.ko.xz": testmod.Xz, "a.ko.zst": testmod.Zstd,
	} {
		got, ok := testmod.CompressionFromPath(p)
		if !ok || got != want {
			t.Errorf("CompressionFromPath(%q) = %v, %v", p, got, ok)
		}
		if got.Suffix() == "" || !strings.HasSuffix(p, got.Suffix()) {
			t.Errorf("Suffix of %v = %q", got, got.Suffix())
		}
	}
	for _, p := range []string{"a.o", "a.ko.bz2", "ko"} {
		if _, ok := testmod.CompressionFromPath(p); ok {
			t.Errorf("CompressionFromPath(%q) accepted", p)
		}
	}
}
