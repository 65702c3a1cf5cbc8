package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// A row is one measured figure of the benchmark document: a contender A
// (gokmod) against an anchor B (kmod, libkmod, liblzma...) on one metric,
// over rounds in which A and B alternate. Each round yields one value of
// A, one of B and their ratio; a row keeps the median and the extremes of
// each over the rounds. Rows are written as tab-separated lines so that
// the script that renders docs/benchmarks.md, a test or CI can read them.
type row struct {
	ID     string // what was measured, e.g. "depmod.debian13"
	Metric string // "wall", "cpu", "rss", "cpu/byte", ...
	Unit   string // unit of A and B: "ms", "s", "MiB", "ns/B"...
	ALabel string
	A      summary
	BLabel string
	B      summary
	Ratio  summary // per round: A/B, or B/A where the row says so (speed ratios)
	Rounds int
	Check  string // "identical", "differ: ...", or "-" when nothing was compared
}

// summary is the median and the range of one figure over the rounds.
type summary struct{ Median, Min, Max float64 }

// summarize returns the median, minimum and maximum of v; NaN for all
// three when v is empty.
func summarize(v []float64) summary {
	if len(v) == 0 {
		return summary{math.NaN(), math.NaN(), math.NaN()}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return summary{Median: medianSorted(s), Min: s[0], Max: s[len(s)-1]}
}

// median returns the median of v (NaN when empty).
func median(v []float64) float64 { return summarize(v).Median }

func medianSorted(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// rowHeader names the columns of the rows file.
var rowHeader = []string{
	"id", "metric", "unit",
	"a", "a_median", "a_min", "a_max",
	"b", "b_median", "b_min", "b_max",
	"ratio_median", "ratio_min", "ratio_max", "rounds", "check",
}

func fmtFloat(f float64) string {
	if math.IsNaN(f) {
		return "-"
	}
	return strconv.FormatFloat(f, 'g', 6, 64)
}

func parseFloat(s string) (float64, error) {
	if s == "-" {
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}

// cleanField keeps a label or check on one TSV field.
func cleanField(s string) string {
	if s == "" {
		return "-"
	}
	return strings.NewReplacer("\t", " ", "\n", " ").Replace(s)
}

// fields returns r as the columns of rowHeader.
func (r row) fields() []string {
	s := func(v summary) []string { return []string{fmtFloat(v.Median), fmtFloat(v.Min), fmtFloat(v.Max)} }
	f := []string{cleanField(r.ID), cleanField(r.Metric), cleanField(r.Unit), cleanField(r.ALabel)}
	f = append(f, s(r.A)...)
	f = append(f, cleanField(r.BLabel))
	f = append(f, s(r.B)...)
	f = append(f, s(r.Ratio)...)
	return append(f, strconv.Itoa(r.Rounds), cleanField(r.Check))
}

// appendRows appends rows to the file at path, with the header line when
// the file is new or empty.
func appendRows(path string, rows ...row) error {
	// Not an input: the rows file the runner named.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	w := bufio.NewWriter(f)
	if fi.Size() == 0 {
		fmt.Fprintln(w, strings.Join(rowHeader, "\t"))
	}
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r.fields(), "\t"))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// errRowsFormat is wrapped by every error readRows returns for a
// malformed line.
var errRowsFormat = errors.New("malformed rows file")

// readRows reads a rows file written by appendRows; name is used in
// errors. Header lines (which start with "id\t") are skipped wherever
// they are, so that files can be concatenated.
func readRows(r io.Reader, name string) ([]row, error) {
	var rows []row
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "id\t") {
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) != len(rowHeader) {
			return nil, fmt.Errorf("%s:%d: %d fields, want %d: %w", name, line, len(f), len(rowHeader), errRowsFormat)
		}
		r := row{ID: f[0], Metric: f[1], Unit: f[2], ALabel: f[3], BLabel: f[7], Check: f[15]}
		var nums [9]float64
		for i, idx := range []int{4, 5, 6, 8, 9, 10, 11, 12, 13} {
			v, err := parseFloat(f[idx])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %s %q: %w", name, line, rowHeader[idx], f[idx], errRowsFormat)
			}
			nums[i] = v
		}
		r.A = summary{nums[0], nums[1], nums[2]}
		r.B = summary{nums[3], nums[4], nums[5]}
		r.Ratio = summary{nums[6], nums[7], nums[8]}
		n, err := strconv.Atoi(f[14])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: rounds %q: %w", name, line, f[14], errRowsFormat)
		}
		r.Rounds = n
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return rows, nil
}

// pairedRow builds a row from per-round values of A and B: the ratio of
// each round is a/b (or b/a when inverse is set, for rows where higher is
// better, such as speed from time).
func pairedRow(id, metric, unit, aLabel, bLabel string, a, b []float64, inverse bool) row {
	n := min(len(a), len(b))
	ratios := make([]float64, n)
	for i := range n {
		if inverse {
			ratios[i] = b[i] / a[i]
		} else {
			ratios[i] = a[i] / b[i]
		}
	}
	return row{
		ID: id, Metric: metric, Unit: unit,
		ALabel: aLabel, A: summarize(a),
		BLabel: bLabel, B: summarize(b),
		Ratio: summarize(ratios), Rounds: n, Check: "-",
	}
}

func nan() float64 { return math.NaN() }
