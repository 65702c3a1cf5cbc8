package vmtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// fakeBzImage returns a minimal bzImage around payload: one setup
// sector plus the boot sector, then the protected-mode code with the
// payload at offset 16.
func fakeBzImage(payload []byte) []byte {
	img := make([]byte, 2*512+16)
	img[0x1f1] = 1
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x206:], 0x20f)
	binary.LittleEndian.PutUint32(img[0x248:], 16)
	binary.LittleEndian.PutUint32(img[0x24c:], uint32(len(payload)))
	return append(img, payload...)
}

func TestBzImagePayload(t *testing.T) {
	got, err := bzImagePayload(fakeBzImage([]byte("PAYLOAD")))
	if err != nil || string(got) != "PAYLOAD" {
		t.Errorf("payload = %q, %v", got, err)
	}
	bad := fakeBzImage([]byte("PAYLOAD"))
	binary.LittleEndian.PutUint32(bad[0x24c:], 1<<20)
	if _, err := bzImagePayload(bad); err == nil {
		t.Error("an out-of-bounds payload was accepted")
	}
	if _, err := bzImagePayload([]byte("\x7fELF")); err == nil {
		t.Error("a non-bzImage was accepted")
	}
}

func TestDecompressPayloadGzip(t *testing.T) {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte("vmlinux"))
	zw.Close()
	z.Write([]byte{7, 0, 0, 0}) // the size the kernel build appends
	var out bytes.Buffer
	if err := decompressPayload(context.Background(), z.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "vmlinux" {
		t.Errorf("decompressed %q", out.String())
	}
	if err := decompressPayload(context.Background(), []byte("BZh9"), &out); err == nil {
		t.Error("an unknown compression was accepted")
	}
}

func TestDecompressPayloadZstd(t *testing.T) {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	z := enc.EncodeAll([]byte("vmlinux"), nil)
	enc.Close()
	z = append(z, 7, 0, 0, 0) // the size the kernel build appends
	var out bytes.Buffer
	if err := decompressPayload(context.Background(), z, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "vmlinux" {
		t.Errorf("decompressed %q", out.String())
	}
	out.Reset()
	if err := decompressPayload(context.Background(), z[:len(z)-6], &out); err == nil {
		t.Error("a truncated zstd payload was accepted")
	}
}
