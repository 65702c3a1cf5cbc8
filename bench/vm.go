package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// vmUsage is the synopsis of the vm subcommand.
const vmUsage = `usage: bench vm -rows FILE LOG...

Reads the logs of runs of the VM benchmarks (GOKMOD_VM_BENCH=. go test -v
-run TestGuest ./internal/vmtest), one boot of each distribution per log,
and appends a row for every ratio they report (a metric whose unit is
CONTENDER/ANCHOR): the ratio's median and range over the logs, with the
contenders' mean times (CONTENDER-ms/op). Row IDs are
vm.DISTRIBUTION.BENCHMARK[.SUB...].CONTENDER, the benchmark's path in
lower case without "Benchmark" and the -GOMAXPROCS suffix.`

// vmResult is one ratio of one benchmark line.
type vmResult struct {
	id                string // row ID
	contender, anchor string
	ratio             float64
	aMs, bMs          float64 // mean ms/op of each; NaN when not reported
	modules           string
}

var (
	// vmSubtest matches the test runner's lines that say which subtest
	// (so which distribution's VM) the following lines come from.
	vmSubtest = regexp.MustCompile(`^=== (?:RUN|CONT|NAME|PAUSE)\s+TestGuest/([A-Za-z0-9_.-]+)`)
	// vmDistribution recognises a distribution in a benchmark's name, for
	// lines that carry it themselves.
	vmDistribution = regexp.MustCompile(`^(debian[0-9]+)$`)
	// vmBenchLine finds a benchmark result anywhere in a line (the host
	// test logs the guest's output with a file:line prefix).
	vmBenchLine = regexp.MustCompile(`(Benchmark[^\s]*)\s+([0-9]+)\s+(.*)$`)
	procSuffix  = regexp.MustCompile(`-[0-9]+$`)
)

// parseVMLog returns the ratios of one log; name is used in errors.
func parseVMLog(r io.Reader, name string) ([]vmResult, error) {
	var out []vmResult
	dist := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := vmSubtest.FindStringSubmatch(line); m != nil {
			dist = m[1]
			continue
		}
		m := vmBenchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		fields := strings.Fields(m[3])
		if len(fields)%2 != 0 {
			continue // not a result line
		}
		metrics := map[string]float64{}
		var units []string
		for i := 0; i < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				metrics = nil
				break
			}
			metrics[fields[i+1]] = v
			units = append(units, fields[i+1])
		}
		if metrics == nil {
			continue
		}
		path := strings.Split(procSuffix.ReplaceAllString(strings.TrimPrefix(m[1], "Benchmark"), ""), "/")
		d := dist
		var parts []string
		for _, p := range path {
			p = strings.ToLower(p)
			if v, ok := strings.CutPrefix(p, "distro="); ok {
				p = v
			}
			if vmDistribution.MatchString(p) {
				d = p
				continue
			}
			if strings.HasPrefix(p, "kernel=") {
				continue // the release: the distribution says which
			}
			parts = append(parts, slug(p))
		}
		if d == "" {
			return nil, fmt.Errorf("%s: %q: no distribution (no TestGuest/DIST subtest line before it)", name, line)
		}
		// A line that reports the median of per-iteration ratios
		// (CONTENDER/ANCHOR-med) is read for those; one that does not, for
		// its plain ratios.
		medians := slices.ContainsFunc(units, func(u string) bool { return strings.Contains(u, "/") && strings.HasSuffix(u, "-med") })
		for _, u := range units {
			contender, anchor, ok := strings.Cut(u, "/")
			if !ok || anchor == "op" || strings.HasSuffix(anchor, "/op") || strings.Contains(anchor, "/") {
				continue
			}
			if medians {
				var isMed bool
				if anchor, isMed = strings.CutSuffix(anchor, "-med"); !isMed {
					continue
				}
			} else if strings.HasSuffix(anchor, "-min") || strings.HasSuffix(anchor, "-max") {
				continue
			}
			res := vmResult{
				id:        "vm." + d + "." + strings.Join(parts, ".") + "." + slug(contender),
				contender: contender, anchor: anchor,
				ratio: metrics[u],
				aMs:   metricOr(metrics, contender+"-ms/op"),
				bMs:   metricOr(metrics, anchor+"-ms/op"),
			}
			if n, ok := metrics["modules"]; ok {
				res.modules = strconv.FormatFloat(n, 'f', -1, 64)
			}
			out = append(out, res)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

func metricOr(m map[string]float64, key string) float64 {
	if v, ok := m[key]; ok {
		return v
	}
	return nan()
}

// vmRows turns the results of several logs (one per boot) into rows, in
// the order the IDs first appear.
func vmRows(logs [][]vmResult) []row {
	type acc struct {
		first           vmResult
		ratio, aMs, bMs []float64
		modules         []string
	}
	byID := map[string]*acc{}
	var order []string
	for _, results := range logs {
		for _, r := range results {
			a := byID[r.id]
			if a == nil {
				a = &acc{first: r}
				byID[r.id] = a
				order = append(order, r.id)
			}
			a.ratio = append(a.ratio, r.ratio)
			a.aMs = append(a.aMs, r.aMs)
			a.bMs = append(a.bMs, r.bMs)
			if r.modules != "" && !slices.Contains(a.modules, r.modules) {
				a.modules = append(a.modules, r.modules)
			}
		}
	}
	var rows []row
	for _, id := range order {
		a := byID[id]
		check := "-"
		if len(a.modules) > 0 {
			check = "both loaded the same " + strings.Join(a.modules, " or ") + " modules"
		}
		rows = append(rows, row{
			ID: id, Metric: "wall", Unit: "ms",
			ALabel: a.first.contender, A: summarize(a.aMs),
			BLabel: a.first.anchor, B: summarize(a.bMs),
			Ratio: summarize(a.ratio), Rounds: len(a.ratio), Check: check,
		})
	}
	return rows
}

func vmMain(args []string) error {
	fs := flag.NewFlagSet("vm", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), vmUsage); fs.PrintDefaults() }
	rowsPath := fs.String("rows", "", "rows file to append to (required)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("vm: %w", errUsage)
	}
	if *rowsPath == "" || fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("vm: -rows and at least one log are required: %w", errUsage)
	}
	var logs [][]vmResult
	for _, p := range fs.Args() {
		// Not an input: a log the runner wrote.
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		res, err := parseVMLog(f, p)
		f.Close()
		if err != nil {
			return err
		}
		if len(res) == 0 {
			return fmt.Errorf("vm: %s: no benchmark ratio in the log", p)
		}
		logs = append(logs, res)
	}
	return appendRows(*rowsPath, vmRows(logs)...)
}
