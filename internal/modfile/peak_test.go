package modfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ulikunitz/xz"

	"github.com/gokmod/modprobe/internal/testmod"
)

// peakBombSize is the output of the bombs TestDecompressPeakMemory
// decompresses.
const peakBombSize = 2 << 30

// peakSlack is how far past the limit the heap of a decompression may
// peak: decoder state (flate's and LZMA2's tables; zstd's counting
// buffer of up to 4 MiB beside the larger one it grows to), the input
// buffers, and the runtime's own allocations while it runs. SECURITY.md
// states it.
const peakSlack = 16 << 20

// defaultMaxModuleSize is modprobe.DefaultMaxModuleSize, the limit a
// Loader decompresses with unless told otherwise (package modprobe
// imports this one, so its constant cannot be named here).
const defaultMaxModuleSize = 512 << 20

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
	// (128 MiB): the history of the pass that counts the output.
	out["zstd-window"] = testmod.ZstdRLEFrame(peakBombSize, []byte{0x00, 0x88})
	// zstd declaring the limit as its content size, and exceeding it.
	out["zstd-fcs-limit"] = testmod.ZstdRLEFrame(peakBombSize, binary.LittleEndian.AppendUint64([]byte{0xc0, 0x38}, uint64(limit)))
	// xz whose streams declare a 4 GiB dictionary, with one byte of
	// garbage at the end so that the index cannot be read from there and
	// the file is decoded from the front.
	out["xz-dict-stream"] = append(testmod.XZBigDict(t, out["xz"]), 0)
	return out
}

// TestDecompressPeakMemory decompresses 2 GiB bombs of every format in a
// child process each (internal/memtest/peakdecompress, built without the
// race detector, whose shadow memory would count), against limits of
// 512 MiB (defaultMaxModuleSize) and 48 MiB, and checks the peak of the
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
	build := exec.Command("go", "build", "-o", child, "github.com/gokmod/modprobe/internal/memtest/peakdecompress")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the child: %v\n%s", err, out)
	}
	re := regexp.MustCompile(`(?m)^PEAK heap=(\d+) rss=(\d+) err=(.*)$`)
	for _, limit := range []int64{defaultMaxModuleSize, 48 << 20} {
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
