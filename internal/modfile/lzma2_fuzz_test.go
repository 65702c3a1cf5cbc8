package modfile

import (
	"bytes"
	"io"
	"testing"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// lzma2FuzzMax bounds the output FuzzLZMA2 decodes.
const lzma2FuzzMax = 256 << 10

// lzma2Payload returns the LZMA2 data of the first block of an xz file
// and the block's dictionary size, followed by the rest of the file.
func lzma2Payload(tb testing.TB, file []byte) ([]byte, uint32) {
	tb.Helper()
	src := newSource(bytes.NewReader(file), xzHeaderLen, int64(len(file)), inputBufSize)
	hdr, err := xzReadBlockHeader(src)
	if err != nil {
		tb.Fatal(err)
	}
	return file[hdr.off:], hdr.dict
}

// FuzzLZMA2 decodes arbitrary LZMA2 data with gokmod's decoder, into a
// flat buffer and through a sliding window, and with ulikunitz/xz's: when
// both succeed, the outputs are equal; gokmod's may fail where
// ulikunitz/xz succeeds (it is the stricter, as liblzma), never the
// reverse, and its two modes agree.
func FuzzLZMA2(f *testing.F) {
	data := payloads(f)
	for _, name := range []string{"elf", "text", "random"} {
		d := data[name]
		// Small seeds: the fuzzer minimizes every new input, in time
		// quadratic in its size.
		if len(d) > 6<<10 {
			d = d[:6<<10]
		}
		for _, file := range [][]byte{
			compressTool(f, "xz", d, false, "--check=crc32", "--lzma2=dict=1MiB"),
			compressTool(f, "xz", d, false, "--lzma2=preset=1,lc=0,lp=4,pb=0,dict=4KiB"),
			xzWriter(f, d, xz.WriterConfig{CheckSum: xz.CRC32}),
		} {
			payload, dict := lzma2Payload(f, file)
			f.Add(payload, byte(0), uint8(dict>>20))
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte, propsByte byte, _ uint8) {
		props := propsByte % 41
		dict := uint32(0xffffffff)
		if props < 40 {
			dict = (2 | uint32(props&1)) << (props/2 + 11)
		}
		// Flat: the whole output is the dictionary.
		flat := lzWindow{buf: make([]byte, lzma2FuzzMax), dictSize: dict}
		var dec lzma2Decoder
		errFlat := dec.decode(newSource(bytes.NewReader(payload), 0, int64(len(payload)), inputBufSize), &flat)
		// Window: flushed to an output, sliding its dictionary.
		dictCap := xzDictCap(dict, lzma2FuzzMax)
		out := newOutput(XZ, lzma2FuzzMax, lzma2FuzzMax)
		win := lzWindow{buf: make([]byte, dictCap+min(lzma2MaxChunk, lzma2FuzzMax)), dictSize: dict,
			out: out, keep: dictCap, overflow: tooLarge(XZ, lzma2FuzzMax)}
		errWin := dec.decode(newSource(bytes.NewReader(payload), 0, int64(len(payload)), inputBufSize), &win)
		if errWin == nil {
			errWin = win.flush()
		}
		if (errFlat == nil) != (errWin == nil) || errFlat == nil && !bytes.Equal(flat.buf[:flat.pos], out.buf) {
			t.Fatalf("flat: %d bytes, %v; window: %d bytes, %v", flat.pos, errFlat, len(out.buf), errWin)
		}
		r, err := lzma.Reader2Config{DictCap: dictCap}.NewReader2(bytes.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		want, errU := io.ReadAll(io.LimitReader(r, lzma2FuzzMax+1))
		switch {
		case errFlat == nil && errU != nil:
			t.Fatalf("gokmod decoded %d bytes, ulikunitz/xz failed: %v", flat.pos, errU)
		case errFlat == nil && !bytes.Equal(flat.buf[:flat.pos], want):
			t.Fatalf("gokmod decoded %d bytes, ulikunitz/xz %d different ones", flat.pos, len(want))
		}
	})
}
