package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	got := summarize([]float64{3, 1, 2, 10})
	if want := (summary{Median: 2.5, Min: 1, Max: 10}); got != want {
		t.Fatalf("summarize = %+v, want %+v", got, want)
	}
	if s := summarize(nil); !math.IsNaN(s.Median) {
		t.Fatalf("summarize(nil) = %+v, want NaN", s)
	}
}

func TestPairedRowRatios(t *testing.T) {
	r := pairedRow("x", "wall", "ms", "A", "B", []float64{1, 4, 3}, []float64{2, 2, 2}, false)
	if r.Ratio != (summary{Median: 1.5, Min: 0.5, Max: 2}) || r.Rounds != 3 {
		t.Fatalf("ratio %+v rounds %d", r.Ratio, r.Rounds)
	}
	speed := pairedRow("x", "cpu/byte", "ns/B", "A", "B", []float64{4}, []float64{2}, true)
	if speed.Ratio.Median != 0.5 {
		t.Fatalf("inverse ratio %v, want 0.5", speed.Ratio.Median)
	}
}

func TestRowsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rows.tsv")
	want := []row{
		pairedRow("depmod.debian13", "wall", "ms", "gokmod", "kmod 34.2", []float64{1, 2}, []float64{2, 2}, false),
		{ID: "heap", Metric: "heap", Unit: "MiB", ALabel: "gokmod", A: summary{0.5, 0.5, 0.5}, BLabel: "-",
			B: summary{nan(), nan(), nan()}, Ratio: summary{nan(), nan(), nan()}, Rounds: 1, Check: "tab\there"},
	}
	if err := appendRows(path, want[0]); err != nil {
		t.Fatal(err)
	}
	if err := appendRows(path, want[1]); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "id\tmetric"); n != 1 {
		t.Fatalf("%d header lines, want 1:\n%s", n, data)
	}
	got, err := readRows(strings.NewReader(string(data)), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "depmod.debian13" || got[0].Ratio.Median != 0.75 || got[1].Check != "tab here" || !math.IsNaN(got[1].B.Median) {
		t.Fatalf("read back %+v", got)
	}
}

func TestReadRowsRejectsMalformed(t *testing.T) {
	_, err := readRows(strings.NewReader("id\tmetric\nx\twall\n"), "rows.tsv")
	if !errors.Is(err, errRowsFormat) || !strings.Contains(err.Error(), "rows.tsv:2") {
		t.Fatalf("err = %v, want errRowsFormat naming rows.tsv:2", err)
	}
}

func TestParseABCommands(t *testing.T) {
	cmds, err := parseABCommands([]string{"---", "gokmod", "GOKMOD_COMPAT=kmod30", "/bin/gokmod", "X=1", "---", "kmod 30", "/sbin/modprobe", "-V"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 2 || cmds[0].label != "gokmod" || !reflect.DeepEqual(cmds[0].env, []string{"GOKMOD_COMPAT=kmod30"}) ||
		!reflect.DeepEqual(cmds[0].argv, []string{"/bin/gokmod", "X=1"}) || !reflect.DeepEqual(cmds[1].argv, []string{"/sbin/modprobe", "-V"}) {
		t.Fatalf("parsed %+v %+v", cmds[0], cmds[1])
	}
	for _, bad := range [][]string{nil, {"gokmod", "/x"}, {"---", "a", "/x"}, {"---", "a", "---", "b", "/x"}} {
		if _, err := parseABCommands(bad); !errors.Is(err, errUsage) {
			t.Errorf("parseABCommands(%q) = %v, want errUsage", bad, err)
		}
	}
}

func TestABRunsAndWritesRows(t *testing.T) {
	dir := t.TempDir()
	rows := filepath.Join(dir, "rows.tsv")
	err := abMain([]string{"-id", "t", "-rows", rows, "-rounds", "2", "-runs", "2", "-warmup", "0", "-compare",
		"---", "a", "/bin/echo", "hi", "---", "b", "/bin/echo", "hi", "---", "Ref One", "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readFileWith(rows, readRows)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID+"/"+r.Metric)
		if r.Rounds != 2 || !(r.A.Median > 0) || !(r.Ratio.Median > 0) {
			t.Errorf("row %+v: want 2 rounds and positive figures", r)
		}
	}
	want := []string{"t/wall", "t/cpu", "t/rss", "t.ref-one/wall", "t.ref-one/cpu", "t.ref-one/rss"}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("rows %q, want %q", ids, want)
	}
	if got[0].Check != "identical (3 bytes)" || got[3].Check != "-" {
		t.Fatalf("checks %q %q", got[0].Check, got[3].Check)
	}
	// Forked from the small launcher, not from this test's process, the
	// child's peak RSS is its own: /bin/true's, a few hundred KiB to a
	// MiB or two, not the Go process's.
	if rss := got[5].A.Median; rss > 4 {
		t.Fatalf("/bin/true's peak RSS %.2f MiB: the runner's memory counted in", rss)
	}
	// A failing command stops the run with its name.
	err = abMain([]string{"-id", "t", "-rows", rows, "---", "a", "/bin/false", "---", "b", "/bin/true"})
	if err == nil || !strings.Contains(err.Error(), "/bin/false") {
		t.Fatalf("err = %v, want one naming /bin/false", err)
	}
}

// vmLog is what the VM benchmarks print today (host test output around
// the guest's lines), and a line labelled the way a later version may
// label it (distribution and path in the benchmark's name).
const vmLog = `=== RUN   TestGuest
    vm_test.go:62: built the guest binaries in 12s
=== RUN   TestGuest/debian12
    vm_test.go:410: goos: linux
    vm_test.go:410: BenchmarkStack
    vm_test.go:410: BenchmarkStack-2   	      15	2251356320 ns/op	       570.0 gokmod-ms/op	         1.012 gokmod/kmod	       563.0 kmod-ms/op	        35.00 modules
    vm_test.go:410: BenchmarkLoadAll-2 	      15	       361.0 gokmod-ms/op	       219.0 gokmod-jobs2-ms/op	         0.6571 gokmod-jobs2/kmod	         1.081 gokmod/kmod	       334.0 kmod-ms/op	        51.00 modules
=== RUN   TestGuest/debian13
    vm_test.go:410: BenchmarkStack-2   	      15	      1563 gokmod-ms/op	         1.010 gokmod/kmod	      1548 kmod-ms/op	        39.00 modules
    vm_test.go:410: BenchmarkStack/debian13/lib-2   	      15	      1500 gokmod-ms/op	         0.97 gokmod/kmod	      1548 kmod-ms/op	        39.00 modules
--- PASS: TestGuest (200.00s)
`

func TestParseVMLog(t *testing.T) {
	res, err := parseVMLog(strings.NewReader(vmLog), "vm.log")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, r := range res {
		got[r.id] = r.ratio
	}
	want := map[string]float64{
		"vm.debian12.stack.gokmod":         1.012,
		"vm.debian12.loadall.gokmod-jobs2": 0.6571,
		"vm.debian12.loadall.gokmod":       1.081,
		"vm.debian13.stack.gokmod":         1.010,
		"vm.debian13.stack.lib.gokmod":     0.97,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ratios %v, want %v", got, want)
	}
	if res[1].aMs != 219 || res[1].bMs != 334 || res[1].modules != "51" {
		t.Fatalf("jobs2 result %+v", res[1])
	}
	// Sub-benchmarks naming the distribution and kernel, with medians of
	// per-iteration ratios: those are read, the rest of the ratios not.
	res, err = parseVMLog(strings.NewReader("    vm_test.go:80: BenchmarkStack/distro=debian13/kernel=6.12.1-amd64-2 \t 5\t 9 ns/op\t 1.10 cli/kmod\t 1.05 cli/kmod-med\t 0.9 cli/kmod-min\t 1.3 cli/kmod-max\t 120 cli-ms/op\t 110 kmod-ms/op\t 39 modules\n"), "new.log")
	if err != nil || len(res) != 1 || res[0].id != "vm.debian13.stack.cli" || res[0].ratio != 1.05 || res[0].aMs != 120 || res[0].bMs != 110 {
		t.Fatalf("new format: %+v, %v", res, err)
	}
	if _, err := parseVMLog(strings.NewReader("BenchmarkStack-2 1 5 gokmod/kmod\n"), "x.log"); err == nil || !strings.Contains(err.Error(), "x.log") {
		t.Fatalf("a line without distribution: err = %v", err)
	}
}

func TestVMRowsOverBoots(t *testing.T) {
	boot := func(r float64) []vmResult {
		return []vmResult{{id: "vm.debian12.stack.gokmod", contender: "gokmod", anchor: "kmod", ratio: r, aMs: r * 100, bMs: 100, modules: "35"}}
	}
	rows := vmRows([][]vmResult{boot(0.9), boot(1.1), boot(1.0)})
	if len(rows) != 1 || rows[0].Ratio != (summary{1.0, 0.9, 1.1}) || rows[0].Rounds != 3 || !strings.Contains(rows[0].Check, "35") {
		t.Fatalf("rows %+v", rows)
	}
}

func TestStatuses(t *testing.T) {
	gs := []goal{
		{Pattern: "vm.debian12.stack*.gokmod", Metric: "wall", Op: "<=", Target: 0.95},
		{Pattern: "xz.host", Metric: "cpu/byte", Op: ">=", Target: 0.7},
		{Pattern: "nothing", Metric: "wall", Op: "<=", Target: 1},
	}
	rows := []row{
		{ID: "vm.debian12.stack.gokmod", Metric: "wall", Ratio: summary{0.9, 0.8, 1}},
		{ID: "vm.debian12.stack.cli.gokmod", Metric: "wall", Ratio: summary{1.0, 0.9, 1.1}},
		{ID: "xz.host", Metric: "cpu/byte", Ratio: summary{0.5, 0.4, 0.6}},
		{ID: "xz.host", Metric: "wall/byte", Ratio: summary{0.9, 0.9, 0.9}},
	}
	var words []string
	for _, s := range statuses(gs, rows) {
		words = append(words, s.word())
	}
	if want := []string{"met", "missed", "missed", "absent"}; !reflect.DeepEqual(words, want) {
		t.Fatalf("statuses %q, want %q", words, want)
	}
}

func TestRenderDoc(t *testing.T) {
	rows := []row{pairedRow("depmod.debian13", "wall", "ms", "gokmod", "kmod 34.2", []float64{600, 700}, []float64{1000, 1000}, false)}
	rows = append(rows, pairedRow("depmod.debian13", "cpu", "ms", "gokmod", "kmod 34.2", []float64{1500, 2500}, []float64{1000, 1000}, false))
	var b strings.Builder
	err := renderDoc(&b, "t", `{{meta "date"}}|{{ratio "depmod.debian13" "wall"}}|{{ratio "nope" "wall"}}
{{topTable}}{{detail "depmod."}}{{detail "none."}}`, rows, map[string]string{"date": "D"})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"D|0.650 (0.600–0.700)|(not measured)", "| depmod, Debian 13 tree, gokmod / kmod 34.2 (wall) | <= 0.7 | 0.650 (0.600–0.700) | 0.650 vs 1.00 s | met |",
		"| the same, CPU | <= 1.4 | 2.00 (1.50–2.50) | 2.00 vs 1.00 s | **missed** |", "| the same, peak RSS | <= 1.5× | not measured |  | not measured |",
		"| `depmod.debian13` | cpu | gokmod | 2.00 (1.50–2.50) s | kmod 34.2 | 1.00 s | 2.00 (1.50–2.50) | 2 | - |", "(not measured in this run)"} {
		if !strings.Contains(out, want) {
			t.Errorf("document lacks %q:\n%s", want, out)
		}
	}
	if err := renderDoc(&b, "t", `{{meta "nokey"}}`, nil, map[string]string{}); err == nil {
		t.Fatal("a missing meta key rendered without error")
	}
}

func TestShiftHeadings(t *testing.T) {
	got := shiftHeadings("# a\ntext\n```\n# not a heading\n```\n## b", 2)
	if want := "### a\ntext\n```\n# not a heading\n```\n#### b"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSameFiles(t *testing.T) {
	kmod, ours := t.TempDir(), t.TempDir()
	write := func(dir, name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(kmod, "modules.dep", "a.ko:\n")
	write(ours, "modules.dep", "a.ko:\n")
	// An input the mirror links to: not compared.
	if err := os.Symlink("/nonexistent", filepath.Join(kmod, "modules.order")); err != nil {
		t.Fatal(err)
	}
	got, err := sameFiles(kmod, ours)
	if err != nil || got != "identical (1 files, byte for byte)" {
		t.Fatalf("sameFiles = %q, %v", got, err)
	}
	write(kmod, "modules.alias", "alias x a\n")
	write(ours, "modules.alias", "alias y a\n")
	write(kmod, "modules.dep.bin", "not an index")
	got, err = sameFiles(kmod, ours)
	if err != nil || got != "differ: modules.alias modules.dep.bin (missing) (of 3 files)" {
		t.Fatalf("sameFiles = %q, %v", got, err)
	}
	if _, err := sameFiles(t.TempDir(), ours); err == nil {
		t.Fatal("an empty directory compared without error")
	}
}

// TestVMGoalsMatchLabelledPaths checks that the VM goals cover today's row
// IDs and the library and CLI paths a labelled benchmark may report, in
// its name or in its contenders' names, but not the sequential LoadAll.
func TestVMGoalsMatchLabelledPaths(t *testing.T) {
	matches := func(id string) []string {
		var got []string
		for _, s := range statuses(goals, []row{{ID: id, Metric: "wall", Ratio: summary{1, 1, 1}}}) {
			if s.row != nil {
				got = append(got, s.goal.Pattern)
			}
		}
		return got
	}
	for id, want := range map[string][]string{
		"vm.debian12.stack.cli":             {"vm.debian12.stack*.cli"},
		"vm.debian13.stack.library":         {"vm.debian13.stack*.library"},
		"vm.debian12.loadall.cli-jobs2":     {"vm.debian12.loadall*.cli-jobs2"},
		"vm.debian13.loadall.library-jobs2": {"vm.debian13.loadall*.library-jobs2"},
		"vm.debian12.loadall.cli":           nil,
		"vm.debian13.kerneltime.stack.cli":  nil,
		"vm.debian12.stack.cli-finit":       nil,
	} {
		if got := matches(id); !reflect.DeepEqual(got, want) {
			t.Errorf("%s matches goals %q, want %q", id, got, want)
		}
	}
}

// TestXZComparesDecoders runs the xz comparison on two files that xz
// compressed as kbuild does, one of them in blocks: gokmod and the host's
// liblzma must decode them alike, and the rows say so.
func TestXZComparesDecoders(t *testing.T) {
	for _, tool := range []string{"xz", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s (scripts/setup.sh installs it): %v", tool, err)
		}
	}
	dir := t.TempDir()
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i*i>>7) ^ byte(i>>12)
	}
	var list []string
	for i, args := range [][]string{{"--check=crc32", "--lzma2=dict=1MiB"}, {"-T2", "--block-size=256KiB", "--check=crc32", "--lzma2=dict=1MiB"}} {
		p := filepath.Join(dir, fmt.Sprintf("m%d.ko", i))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("xz", append(args, p)...).CombinedOutput(); err != nil {
			t.Fatalf("xz %v: %v\n%s", args, err, out)
		}
		list = append(list, p+".xz")
	}
	listPath, rows := filepath.Join(dir, "list"), filepath.Join(dir, "rows.tsv")
	if err := os.WriteFile(listPath, []byte(strings.Join(list, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := xzMain([]string{"-list", listPath, "-rows", rows, "-rounds", "2"}); err != nil {
		t.Fatal(err)
	}
	got, err := readFileWith(rows, readRows)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "xz.host" || got[0].Metric != "cpu/byte" || got[1].Metric != "wall/byte" {
		t.Fatalf("rows %+v", got)
	}
	want := fmt.Sprintf("identical (2 files, %d bytes,", 2*len(data))
	if !strings.HasPrefix(got[0].Check, want) || !strings.HasPrefix(got[0].BLabel, "liblzma 5.") || !(got[0].Ratio.Median > 0) {
		t.Fatalf("row %+v, want check starting %q", got[0], want)
	}
	// A file that is not xz stops the run with an error.
	if err := os.WriteFile(list[0], []byte("not xz"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := xzMain([]string{"-list", listPath, "-rows", rows}); err == nil {
		t.Fatal("a file that is not xz was compared without error")
	}
}

func TestParseInitTrace(t *testing.T) {
	trace := `init internal/bytealg @0.003 ms, 0 ms clock, 0 bytes, 0 allocs
init runtime @0.025 ms, 0.044 ms clock, 0 bytes, 0 allocs
some other line
init os @0.21 ms, 0.012 ms clock, 64 bytes, 3 allocs
`
	ms, n, err := parseInitTrace(strings.NewReader(trace))
	if err != nil || n != 3 || math.Abs(ms-0.056) > 1e-9 {
		t.Fatalf("parseInitTrace = %v, %d, %v; want 0.056 ms over 3 inits", ms, n, err)
	}
	if _, _, err := parseInitTrace(strings.NewReader("no trace\n")); err == nil {
		t.Fatal("a program without inittrace lines gave no error")
	}
	if _, _, err := parseInitTrace(strings.NewReader("init os @0.2 ms, x ms clock, 0 bytes, 0 allocs\n")); err == nil {
		t.Fatal("a malformed clock time gave no error")
	}
}
