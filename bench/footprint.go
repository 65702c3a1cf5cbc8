package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const footprintUsage = `usage: bench footprint -rows FILE -out FILE [-rounds N] [-runs N]

Run in the bench module's directory. Builds the three programs of
bench/footprint (each loads the modules named
on its command line: through gokmod's root package, u-root's kmodule and
pmorjan/kmod) static, and compares what each pays for its library: the
packages go list -deps gives, the binary's size, and its package
initialisation (GODEBUG=inittrace=1, started with no arguments so that it
does nothing else), in alternating rounds. Appends rows footprint.* and
writes a Markdown table to -out.`

// footprintProgram is one of bench/footprint's programs.
type footprintProgram struct {
	name    string // directory below bench/footprint
	library string // what it imports, for the table
}

var footprintPrograms = []footprintProgram{
	{"gokmod", "gokmod's root package (`github.com/gokmod/modprobe`)"},
	{"uroot", "u-root `pkg/kmodule`"},
	{"pmorjan", "`github.com/pmorjan/kmod`"},
}

// footprintBanned are the packages a module loader has no use for and a
// root-only gokmod program must not link (internal/consumer's
// TestRootOnlyImportGraph asserts it); the table says which each program
// links.
var footprintBanned = []string{"net/http", "crypto/tls", "github.com/BurntSushi/toml", "github.com/pelletier/go-toml", "go.yaml.in/yaml", "gopkg.in/yaml", "sigs.k8s.io/yaml", "github.com/google/go-containerregistry", "testing"}

// footprintStatic is what a build tells of one program.
type footprintStatic struct {
	packages, nonStd   int
	banned             []string
	size, strippedSize int64
	bin                string
}

func footprintMain(args []string) error {
	fs := flag.NewFlagSet("footprint", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), footprintUsage); fs.PrintDefaults() }
	rowsPath := fs.String("rows", "", "rows file to append to (required)")
	outPath := fs.String("out", "", "Markdown table to write (required)")
	rounds := fs.Int("rounds", 5, "rounds")
	runs := fs.Int("runs", 20, "runs of each program a round")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("footprint: %w", errUsage)
	}
	if *rowsPath == "" || *outPath == "" || *rounds < 1 || *runs < 1 || fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("footprint: -rows and -out are required: %w", errUsage)
	}
	tmp, err := os.MkdirTemp("", "gokmod-bench-footprint-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	static := make([]footprintStatic, len(footprintPrograms))
	for i, p := range footprintPrograms {
		if static[i], err = footprintBuild(p, tmp); err != nil {
			return err
		}
	}
	// Per program, per round: the median over the round's runs of the
	// summed init clock time (ms) and the number of package inits.
	initMS := make([][]float64, len(footprintPrograms))
	inits := make([]int, len(footprintPrograms))
	for range *rounds {
		for i := range footprintPrograms {
			var times []float64
			for range *runs {
				ms, n, err := footprintInit(static[i].bin)
				if err != nil {
					return err
				}
				times = append(times, ms)
				inits[i] = n
			}
			initMS[i] = append(initMS[i], median(times))
		}
	}

	var rows []row
	a := footprintPrograms[0]
	for i, p := range footprintPrograms[1:] {
		j := i + 1
		r := pairedRow("footprint."+p.name, "init", "ms", a.name, p.name, initMS[0], initMS[j], false)
		rows = append(rows, r,
			// Counts and sizes do not vary between runs: one round.
			pairedRow("footprint."+p.name, "packages", "packages", a.name, p.name, []float64{float64(static[0].packages)}, []float64{float64(static[j].packages)}, false),
			pairedRow("footprint."+p.name, "size", "MiB", a.name, p.name, []float64{inMiB(static[0].strippedSize)}, []float64{inMiB(static[j].strippedSize)}, false))
	}
	if err := appendRows(*rowsPath, rows...); err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintln(&b, "| program imports | packages (not in std) | links net/http, TLS, TOML, YAML, images or testing | static binary (stripped) | package inits | init time, ms (median, min-max over rounds) |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|")
	for i, p := range footprintPrograms {
		s := static[i]
		banned := "none"
		if len(s.banned) > 0 {
			banned = strings.Join(s.banned, ", ")
		}
		sum := summarize(initMS[i])
		fmt.Fprintf(&b, "| %s | %d (%d) | %s | %.2f MiB (%.2f MiB) | %d | %.3f (%.3f-%.3f) |\n",
			p.library, s.packages, s.nonStd, banned, inMiB(s.size), inMiB(s.strippedSize), inits[i], sum.Median, sum.Min, sum.Max)
	}
	return os.WriteFile(*outPath, b.Bytes(), 0o644)
}

func inMiB(n int64) float64 { return float64(n) / (1 << 20) }

// footprintBuild lists program p's packages and builds it static, with and
// without symbol tables, into dir.
func footprintBuild(p footprintProgram, dir string) (footprintStatic, error) {
	var s footprintStatic
	pkg := "./footprint/" + p.name
	out, err := footprintGo("list", "-deps", pkg)
	if err != nil {
		return s, err
	}
	for _, d := range strings.Fields(out) {
		s.packages++
		if first, _, _ := strings.Cut(d, "/"); strings.Contains(first, ".") {
			s.nonStd++
		}
		if slices.ContainsFunc(footprintBanned, func(b string) bool { return d == b || strings.HasPrefix(d, b+"/") }) {
			s.banned = append(s.banned, d)
		}
	}
	full, stripped := filepath.Join(dir, p.name+".full"), filepath.Join(dir, p.name)
	if _, err := footprintGo("build", "-o", full, pkg); err != nil {
		return s, err
	}
	if _, err := footprintGo("build", "-ldflags=-s -w", "-o", stripped, pkg); err != nil {
		return s, err
	}
	for _, f := range []struct {
		path string
		size *int64
	}{{full, &s.size}, {stripped, &s.strippedSize}} {
		fi, err := os.Stat(f.path)
		if err != nil {
			return s, err
		}
		*f.size = fi.Size()
	}
	s.bin = stripped
	return s, nil
}

// footprintGo runs the go command with args, static (CGO_ENABLED=0), and
// returns its standard output.
func footprintGo(args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("footprint: go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// footprintInit runs bin once without arguments under
// GODEBUG=inittrace=1 and returns its package inits' summed clock time in
// milliseconds and their number.
func footprintInit(bin string) (float64, int, error) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("footprint: %s: %w\n%s", bin, err, stderr.String())
	}
	ms, n, err := parseInitTrace(&stderr)
	if err != nil {
		return 0, 0, fmt.Errorf("footprint: %s: %w", bin, err)
	}
	return ms, n, nil
}

// parseInitTrace sums the clock times of the runtime's inittrace lines
// ("init PKG @T ms, C ms clock, B bytes, A allocs") and counts them.
func parseInitTrace(r io.Reader) (float64, int, error) {
	var total float64
	n := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 7 || f[0] != "init" || f[5] != "ms" || f[6] != "clock," {
			continue
		}
		c, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			return 0, 0, fmt.Errorf("inittrace line %q: %w", sc.Text(), err)
		}
		total += c
		n++
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if n == 0 {
		return 0, 0, errors.New("no inittrace lines")
	}
	return total, n, nil
}
