package modprobe

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ulikunitz/xz"
)

// peakBombSize is the output of the bombs TestDecompressPeakMemory
// decompresses.
const peakBombSize = 2 << 30

// peakSlack is how far past the limit the heap of a decompression may
// peak: decoder state (a zstd window of at most 8 MiB beyond a small
// limit, flate's and LZMA2's tables), the input buffers, and the runtime's
// own allocations while it runs. SECURITY.md states it.
const peakSlack = 16 << 20

// peakBombs returns the 2 GiB bombs of TestDecompressPeakMemory for a
// limit: each format as its tools write it, and the variants whose hints
// or headers aim at the most memory a decoder could be made to hold.
func peakBombs(t testing.TB, limit int64) map[string][]byte {
	out := map[string][]byte{}
	for name, b := range bombsOf(t, peakBombSize) {
		out[name] = b
	}
	// gzip whose ISIZE says exactly the limit: a buffer of the limit at
	// once, then the data goes on.
	gz := bytes.Clone(out["gzip"])
	binary.LittleEndian.PutUint32(gz[len(gz)-4:], uint32(limit))
	out["gzip-isize-limit"] = gz
	// zstd without a content size and the largest window accepted
	// (128 MiB): the streaming decoder's history.
	out["zstd-window"] = ZstdRLEFrame(peakBombSize, []byte{0x00, 0x88})
	// zstd declaring the limit as its content size, and exceeding it.
	out["zstd-fcs-limit"] = ZstdRLEFrame(peakBombSize, binary.LittleEndian.AppendUint64([]byte{0xc0, 0x38}, uint64(limit)))
	// xz whose streams declare a 4 GiB dictionary, with one byte of
	// garbage at the end so that the index cannot be read from there and
	// the file is decoded from the front.
	out["xz-dict-stream"] = append(XZBigDict(t, out["xz"]), 0)
	return out
}

// ZstdRLEFrame returns a zstd frame with the given frame header
// descriptor and what follows it, of total bytes of zeros in 128 KiB RLE
// blocks. It is exported for the adversarial table of package
// modprobe_test.
func ZstdRLEFrame(total int, header []byte) []byte {
	const block = 128 << 10
	f := append([]byte{0x28, 0xb5, 0x2f, 0xfd}, header...)
	for i := range total / block {
		h := uint32(block<<3 | 1<<1)
		if i == total/block-1 {
			h |= 1
		}
		f = append(f, byte(h), byte(h>>8), byte(h>>16), 0)
	}
	return f
}

// XZBigDict returns file, xz streams of one block each, with the LZMA2
// dictionary of every block set to 4 GiB in its header. It is exported for
// the adversarial table of package modprobe_test.
func XZBigDict(t testing.TB, file []byte) []byte {
	t.Helper()
	file = bytes.Clone(file)
	for off := 0; off+xzHeaderLen < len(file); {
		h := file[off+xzHeaderLen:]
		size := (int(h[0]) + 1) * 4
		p := 2
		for _, flag := range []byte{0x40, 0x80} { // compressed, uncompressed size
			if h[1]&flag != 0 {
				_, n := xzUvarint(h[p:])
				p += n
			}
		}
		if h[1]&0x03 != 0 || h[p] != xzLZMA2 || h[p+1] != 1 {
			t.Fatalf("unexpected block header % x", h[:size])
		}
		h[p+2] = 40
		binary.LittleEndian.PutUint32(h[size-4:], crc32.ChecksumIEEE(h[:size-4]))
		next := bytes.Index(file[off+1:], []byte(magicXZ))
		if next < 0 {
			break
		}
		off += 1 + next
	}
	return file
}

// TestDecompressPeakMemory decompresses 2 GiB bombs of every format in a
// child process each (internal/memtest/peakdecompress, built without the
// race detector, whose shadow memory would count), against limits of
// 512 MiB (DefaultMaxModuleSize) and 48 MiB, and checks the peak of the
// child's Go heap during the call (live and unswept objects, sampled every
// millisecond) and its peak resident set (VmHWM after
// /proc/self/clear_refs): both at most the limit plus peakSlack. Before,
// a zstd bomb peaked at 810 MiB against 512 MiB: the output buffer
// doubled, holding the old and the new one at once, with the window on
// top.
func TestDecompressPeakMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("decompresses 2 GiB bombs")
	}
	dir := t.TempDir()
	child := filepath.Join(dir, "peakdecompress")
	build := exec.Command("go", "build", "-o", child, "./internal/memtest/peakdecompress")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the child: %v\n%s", err, out)
	}
	re := regexp.MustCompile(`(?m)^PEAK heap=(\d+) rss=(\d+) err=(.*)$`)
	for _, limit := range []int64{DefaultMaxModuleSize, 48 << 20} {
		for name, bomb := range peakBombs(t, limit) {
			t.Run(fmt.Sprintf("%s/%dMiB", name, limit>>20), func(t *testing.T) {
				path := filepath.Join(dir, "bomb.ko")
				if err := os.WriteFile(path, bomb, 0o644); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				out, err := exec.Command(child, path, strconv.FormatInt(limit, 10)).CombinedOutput()
				m := re.FindSubmatch(out)
				if err != nil || m == nil {
					t.Fatalf("child: %v\n%s", err, out)
				}
				heap, _ := strconv.ParseUint(string(m[1]), 10, 64)
				rss, _ := strconv.ParseUint(string(m[2]), 10, 64)
				msg := string(m[3])
				t.Logf("peak heap +%.1f MiB, resident +%.1f MiB (limit %d MiB), %v: %s",
					float64(heap)/(1<<20), float64(rss)/(1<<20), limit>>20, time.Since(start).Round(time.Millisecond), msg)
				// A frame that exceeds its content size is corrupt, and a
				// window over the limit is refused (at 128 MiB and over,
				// the window is accepted and the output is too large).
				switch {
				case msg == "<nil>":
					t.Errorf("no error")
				case strings.HasPrefix(name, "zstd-fcs-l"), name == "zstd-window" && strings.Contains(msg, "window size exceeded"):
				case !strings.Contains(msg, "output exceeds the limit"):
					t.Errorf("error %q, want ErrTooLarge", msg)
				}
				bound := uint64(limit) + peakSlack
				if heap > bound {
					t.Errorf("peak heap +%d MiB, over the limit plus slack, %d MiB", heap>>20, bound>>20)
				}
				if rss > bound {
					t.Errorf("peak resident set +%d MiB, over the limit plus slack, %d MiB", rss>>20, bound>>20)
				}
			})
		}
	}
}

// xzZeros8M is 8 MiB of zeros as one xz stream of one block, for bombsOf.
func xzZeros8M(t testing.TB) []byte {
	return xzWriter(t, make([]byte, 8<<20), xz.WriterConfig{CheckSum: xz.CRC32, DictCap: 1 << 20})
}
