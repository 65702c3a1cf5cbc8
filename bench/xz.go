package main

import (
	"bufio"
	_ "embed"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gokmod/modprobe"
)

//go:embed xzharness/xzcpu.c
var xzHarnessSource []byte

// xzUsage is the synopsis of the xz subcommand.
const xzUsage = `usage: bench xz -list FILE -rows FILE [-rounds N] [-root13 DIR]

Decodes every file named in the list (one path a line; .ko.xz modules) in
memory, with gokmod (modprobe.DecompressModule, which goes through
internal/modfile) and with liblzma (a C harness compiled with gcc against
liblzma-dev): the host's liblzma, and Debian 13's through the loader and
libraries under -root13 (Debian 13's kmod root that scripts/setup.sh
unpacked). First one verifying pass each (outputs compared: size and
FNV-1a hash), then -rounds rounds of one pass each, the order rotated.
The rows give CPU and wall time per decompressed byte, and the ratio as
speed: liblzma's time / gokmod's (higher is better for gokmod).`

// xzSide is one decoder of the xz comparison.
type xzSide struct {
	label, id string
	pass      func() (wall, cpu time.Duration, out int64, err error)
	wall, cpu []float64 // ns per output byte, per round
}

func xzMain(args []string) error {
	fs := flag.NewFlagSet("xz", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), xzUsage); fs.PrintDefaults() }
	listPath := fs.String("list", "", "file listing the modules to decode (required)")
	rowsPath := fs.String("rows", "", "rows file to append to (required)")
	rounds := fs.Int("rounds", 5, "rounds")
	root13 := fs.String("root13", "", "Debian 13's kmod root (loader and libraries); empty: host's liblzma only")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("xz: %w", errUsage)
	}
	if *listPath == "" || *rowsPath == "" || *rounds < 1 || fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("xz: -list and -rows are required: %w", errUsage)
	}
	// Not an input: the list the runner wrote.
	listData, err := os.ReadFile(*listPath)
	if err != nil {
		return err
	}
	var files [][]byte
	for _, p := range strings.Fields(string(listData)) {
		// Not an input: a module of the benchmark's tree.
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, data)
	}
	if len(files) == 0 {
		return fmt.Errorf("xz: %s names no file", *listPath)
	}

	tmp, err := os.MkdirTemp("", "gokmod-bench-xz-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "xzcpu")
	src := filepath.Join(tmp, "xzcpu.c")
	if err := os.WriteFile(src, xzHarnessSource, 0o644); err != nil {
		return err
	}
	if err := runQuiet("", "gcc", "-O2", "-Wall", "-o", bin, src, "-llzma"); err != nil {
		return fmt.Errorf("compiling the liblzma harness (is liblzma-dev installed?): %w", err)
	}

	goSide := &xzSide{label: "gokmod (" + runtime.Version() + ")", id: "xz"}
	goSide.pass = func() (time.Duration, time.Duration, int64, error) {
		runtime.GC()
		var out int64
		var firstErr error
		r := timed(func(*passResult) {
			for _, f := range files {
				img, err := modprobe.DecompressModule(f, 0)
				if err != nil && firstErr == nil {
					firstErr = err
				}
				out += int64(len(img))
			}
		})
		return r.dur, r.cpu, out, firstErr
	}
	wantOut, wantHash, err := goVerify(files)
	if err != nil {
		return fmt.Errorf("xz: gokmod: %w", err)
	}

	var sides []*xzSide
	// Row IDs name where the liblzma comes from, not its version, so
	// that the goals need not change with the distribution's.
	harnesses := []xzHarnessSpec{{"xz.host", []string{bin, *listPath}}}
	if *root13 != "" {
		lib := filepath.Join(*root13, "usr/lib/x86_64-linux-gnu")
		harnesses = append(harnesses, xzHarnessSpec{"xz.debian13", []string{filepath.Join(lib, "ld-linux-x86-64.so.2"), "--library-path", lib, bin, *listPath}})
	}
	for _, hs := range harnesses {
		h, err := startXZHarness(hs.argv)
		if err != nil {
			return err
		}
		defer h.close()
		out, hash, err := h.verify()
		if err != nil {
			return err
		}
		if out != wantOut || hash != wantHash {
			return fmt.Errorf("xz: liblzma %s and gokmod decode differently: %d bytes (hash %s) against %d (%s)", h.version, out, hash, wantOut, wantHash)
		}
		sides = append(sides, &xzSide{label: "liblzma " + h.version, id: hs.id, pass: h.pass})
	}
	all := append([]*xzSide{goSide}, sides...)
	fmt.Fprintf(os.Stderr, "bench xz: %d files, %d bytes out, %d rounds of %d decoders\n", len(files), wantOut, *rounds, len(all))
	for i := range *rounds {
		for j := range all {
			s := all[(i+j)%len(all)]
			wall, cpu, out, err := s.pass()
			if err != nil {
				return fmt.Errorf("xz: %s: %w", s.label, err)
			}
			if out != wantOut {
				return fmt.Errorf("xz: %s decoded %d bytes, want %d", s.label, out, wantOut)
			}
			s.wall = append(s.wall, float64(wall)/float64(out))
			s.cpu = append(s.cpu, float64(cpu)/float64(out))
		}
	}
	check := fmt.Sprintf("identical (%d files, %d bytes, FNV-1a %s)", len(files), wantOut, wantHash)
	var rows []row
	for _, s := range sides {
		for _, m := range []struct {
			name string
			a, b []float64
		}{{"cpu/byte", goSide.cpu, s.cpu}, {"wall/byte", goSide.wall, s.wall}} {
			r := pairedRow(s.id, m.name, "ns/B", goSide.label, s.label, m.a, m.b, true)
			r.Check = check
			rows = append(rows, r)
		}
	}
	return appendRows(*rowsPath, rows...)
}

// goVerify decodes every file with gokmod and returns the output's size
// and FNV-1a hash.
func goVerify(files [][]byte) (int64, string, error) {
	h := fnv.New64a()
	var n int64
	for i, f := range files {
		img, err := modprobe.DecompressModule(f, 0)
		if err != nil {
			return 0, "", fmt.Errorf("file %d of the list: %w", i+1, err)
		}
		h.Write(img)
		n += int64(len(img))
	}
	return n, fmt.Sprintf("%016x", h.Sum64()), nil
}

// xzHarnessSpec is how to run one liblzma harness, and the ID of its rows.
type xzHarnessSpec struct {
	id   string
	argv []string
}

// xzHarness is a running liblzma harness.
type xzHarness struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Reader
	version string
}

func startXZHarness(argv []string) (*xzHarness, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("liblzma harness %s: %w", shellJoin(argv), err)
	}
	h := &xzHarness{cmd: cmd, in: in, out: bufio.NewReader(outPipe)}
	f, err := h.reply("", "ready", 3)
	if err != nil {
		h.close()
		return nil, err
	}
	h.version = f[0]
	return h, nil
}

// reply sends request (none when "") and reads a reply line starting with
// word and n more fields.
func (h *xzHarness) reply(request, word string, n int) ([]string, error) {
	if request != "" {
		if _, err := io.WriteString(h.in, request+"\n"); err != nil {
			return nil, fmt.Errorf("liblzma harness: %w", err)
		}
	}
	line, err := h.out.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("liblzma harness: %w", err)
	}
	f := strings.Fields(line)
	if len(f) != n+1 || f[0] != word {
		return nil, fmt.Errorf("liblzma harness: unexpected output %q", line)
	}
	return f[1:], nil
}

func (h *xzHarness) verify() (int64, string, error) {
	f, err := h.reply("verify", "verify", 2)
	if err != nil {
		return 0, "", err
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("liblzma harness: verify %q: %w", f[0], err)
	}
	return n, f[1], nil
}

func (h *xzHarness) pass() (wall, cpu time.Duration, out int64, err error) {
	f, err := h.reply("pass", "pass", 3)
	if err != nil {
		return 0, 0, 0, err
	}
	var v [3]int64
	for i := range v {
		if v[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
			return 0, 0, 0, fmt.Errorf("liblzma harness: pass %q: %w", f, err)
		}
	}
	return time.Duration(v[0]), time.Duration(v[1]), v[2], nil
}

func (h *xzHarness) close() {
	h.in.Close()
	h.cmd.Wait()
}
