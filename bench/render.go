package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"strconv"
	"strings"
	"text/template"
)

// renderUsage is the synopsis of the render subcommand.
const renderUsage = `usage: bench render -rows FILE -meta FILE -template FILE -out FILE [-summary FILE]

Fills the template (Go text/template) with the rows and the run's facts
(the meta file: KEY<TAB>VALUE lines) and writes the document. It also
writes the summary: one line per goal and matching row, tab-separated
(pattern, id, metric, op, target, median, min, max, status), status
being met, missed or absent. Template functions: topTable; detail PREFIX
(the rows whose ID starts with PREFIX); ratio ID METRIC, a ID METRIC,
b ID METRIC (a row's figures, "median (min-max)"); check ID METRIC;
meta KEY; include PATH and includeShift PATH N (a file, its Markdown
headings N levels deeper).`

// status is the outcome of one goal for one row.
type status struct {
	goal goal
	row  *row // nil when no row matches the goal
}

func (s status) word() string {
	switch {
	case s.row == nil || math.IsNaN(s.goal.figure(*s.row).Median):
		return "absent"
	case s.goal.met(s.goal.figure(*s.row).Median):
		return "met"
	}
	return "missed"
}

// statuses matches every goal with its rows, in the goals' order.
func statuses(gs []goal, rows []row) []status {
	var out []status
	for _, g := range gs {
		found := false
		for i := range rows {
			r := &rows[i]
			if ok, _ := path.Match(g.Pattern, r.ID); ok && r.Metric == g.Metric {
				out = append(out, status{goal: g, row: r})
				found = true
			}
		}
		if !found {
			out = append(out, status{goal: g})
		}
	}
	return out
}

// num formats a figure with about three significant digits.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "-"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// spread formats a summary as "median (min–max)", or the median alone
// when there was one round.
func spread(s summary) string {
	if math.IsNaN(s.Median) {
		return "-"
	}
	if s.Min == s.Max {
		return num(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", num(s.Median), num(s.Min), num(s.Max))
}

// spreadUnit is spread followed by the unit, in seconds rather than
// milliseconds from a second up.
func spreadUnit(s summary, unit string) string {
	if math.IsNaN(s.Median) {
		return "-"
	}
	if unit == "ms" && s.Median >= 1000 {
		s, unit = summary{s.Median / 1000, s.Min / 1000, s.Max / 1000}, "s"
	}
	return spread(s) + " " + unit
}

// versus formats the medians of A and B in one unit, as spreadUnit would.
func versus(r row) string {
	a, b, unit := r.A.Median, r.B.Median, r.Unit
	if unit == "ms" && max(a, b) >= 1000 {
		a, b, unit = a/1000, b/1000, "s"
	}
	return fmt.Sprintf("%s vs %s %s", num(a), num(b), unit)
}

func writeSummary(w io.Writer, sts []status) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "pattern\tid\tmetric\top\ttarget\tmedian\tmin\tmax\tstatus")
	for _, s := range sts {
		id, fig := "-", summary{nan(), nan(), nan()}
		if s.row != nil {
			id, fig = s.row.ID, s.goal.figure(*s.row)
		}
		fmt.Fprintf(bw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.goal.Pattern, id, s.goal.Metric, s.goal.Op,
			fmtFloat(s.goal.Target), fmtFloat(fig.Median), fmtFloat(fig.Min), fmtFloat(fig.Max), s.word())
	}
	return bw.Flush()
}

// topTable is the document's first table: every goal, its figure and
// whether it is met.
func topTable(sts []status) string {
	var b strings.Builder
	b.WriteString("| what | target | measured: median (min–max) | gokmod vs anchor (medians) | status |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, s := range sts {
		what := s.goal.What
		if s.row != nil && strings.ContainsAny(s.goal.Pattern, "*?[") {
			what += " [`" + s.row.ID + "`]"
		}
		target := s.goal.Op + " " + strconv.FormatFloat(s.goal.Target, 'g', -1, 64)
		if !s.goal.Absolute && s.goal.Metric == "rss" {
			target += "×"
		}
		measured, vs := "not measured", ""
		if s.row != nil {
			measured = spread(s.goal.figure(*s.row))
			if s.goal.Absolute {
				vs = spreadUnit(s.row.A, s.row.Unit)
			} else {
				vs = versus(*s.row)
			}
		}
		word := s.word()
		switch word {
		case "missed":
			word = "**missed**"
		case "absent":
			word = "not measured"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", what, target, measured, vs, word)
	}
	return b.String()
}

// detailTable lists every row whose ID starts with prefix.
func detailTable(rows []row, prefix string) string {
	var b strings.Builder
	b.WriteString("| row | metric | A | A: median (min–max) | B | B: median (min–max) | A/B per round: median (min–max) | rounds | output |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	n := 0
	for _, r := range rows {
		if !strings.HasPrefix(r.ID, prefix) {
			continue
		}
		n++
		ratio := spread(r.Ratio)
		if r.Metric == "cpu/byte" || r.Metric == "wall/byte" || r.ID == "plan.uroot" {
			ratio += " (B/A)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %d | %s |\n", r.ID, r.Metric, r.ALabel, spreadUnit(r.A, r.Unit),
			r.BLabel, spreadUnit(r.B, r.Unit), ratio, r.Rounds, r.Check)
	}
	if n == 0 {
		return "(not measured in this run)\n"
	}
	return b.String()
}

// shiftHeadings puts every Markdown heading of s n levels deeper.
func shiftHeadings(s string, n int) string {
	lines := strings.Split(s, "\n")
	fence := false
	for i, l := range lines {
		if strings.HasPrefix(l, "```") {
			fence = !fence
		}
		if !fence && strings.HasPrefix(l, "#") {
			lines[i] = strings.Repeat("#", n) + l
		}
	}
	return strings.Join(lines, "\n")
}

// readMeta reads KEY<TAB>VALUE lines.
func readMeta(r io.Reader, name string) (map[string]string, error) {
	m := map[string]string{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		if sc.Text() == "" {
			continue
		}
		k, v, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			return nil, fmt.Errorf("%s:%d: no tab: %w", name, line, errRowsFormat)
		}
		m[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// findRow returns the row with the ID and metric, or nil.
func findRow(rows []row, id, metric string) *row {
	for i := range rows {
		if rows[i].ID == id && rows[i].Metric == metric {
			return &rows[i]
		}
	}
	return nil
}

// renderDoc executes the template text with rows and meta into w.
func renderDoc(w io.Writer, name, text string, rows []row, meta map[string]string) error {
	sts := statuses(goals, rows)
	fig := func(get func(*row) string) func(id, metric string) string {
		return func(id, metric string) string {
			if r := findRow(rows, id, metric); r != nil {
				return get(r)
			}
			return "(not measured)"
		}
	}
	funcs := template.FuncMap{
		"topTable": func() string { return topTable(sts) },
		"detail":   func(prefix string) string { return detailTable(rows, prefix) },
		"ratio":    fig(func(r *row) string { return spread(r.Ratio) }),
		"a":        fig(func(r *row) string { return spreadUnit(r.A, r.Unit) }),
		"b":        fig(func(r *row) string { return spreadUnit(r.B, r.Unit) }),
		"check":    fig(func(r *row) string { return r.Check }),
		"meta": func(key string) (string, error) {
			v, ok := meta[key]
			if !ok {
				return "", fmt.Errorf("meta: no %q", key)
			}
			return v, nil
		},
		"include": func(p string) (string, error) {
			// Not an input: a section the runner generated.
			b, err := os.ReadFile(p)
			if os.IsNotExist(err) {
				return "(not measured in this run)\n", nil
			}
			return string(b), err
		},
		"includeShift": func(p string, n int) (string, error) {
			b, err := os.ReadFile(p)
			if os.IsNotExist(err) {
				return "(not measured in this run)\n", nil
			}
			return shiftHeadings(string(b), n), err
		},
	}
	t, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		return err
	}
	return t.Execute(w, nil)
}

func renderMain(args []string) error {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), renderUsage); fs.PrintDefaults() }
	rowsPath := fs.String("rows", "", "rows file (required)")
	metaPath := fs.String("meta", "", "meta file (required)")
	tmplPath := fs.String("template", "", "template (required)")
	outPath := fs.String("out", "", "document to write (required)")
	summaryPath := fs.String("summary", "", "summary to write (default: standard output)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("render: %w", errUsage)
	}
	if *rowsPath == "" || *metaPath == "" || *tmplPath == "" || *outPath == "" || fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("render: -rows, -meta, -template and -out are required: %w", errUsage)
	}
	rows, err := readFileWith(*rowsPath, readRows)
	if err != nil {
		return err
	}
	meta, err := readFileWith(*metaPath, readMeta)
	if err != nil {
		return err
	}
	// Not an input: the template in the repository.
	text, err := os.ReadFile(*tmplPath)
	if err != nil {
		return err
	}
	var doc strings.Builder
	if err := renderDoc(&doc, *tmplPath, string(text), rows, meta); err != nil {
		return err
	}
	if err := os.WriteFile(*outPath, []byte(doc.String()), 0o644); err != nil {
		return err
	}
	sw := io.Writer(os.Stdout)
	if *summaryPath != "" {
		f, err := os.Create(*summaryPath)
		if err != nil {
			return err
		}
		defer f.Close()
		sw = f
	}
	return writeSummary(sw, statuses(goals, rows))
}

// readFileWith opens the file at p and parses it with parse.
func readFileWith[T any](p string, parse func(io.Reader, string) (T, error)) (T, error) {
	var zero T
	// Not an input: a file the runner wrote.
	f, err := os.Open(p)
	if err != nil {
		return zero, err
	}
	defer f.Close()
	return parse(f, p)
}
