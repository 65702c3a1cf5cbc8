package kata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// tomlDepth returns how deep the decoded value v nests: one level for
// each map key and each array index on the way to its deepest leaf.
func tomlDepth(v any) int {
	d := 0
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			d = max(d, 1+tomlDepth(e))
		}
	case []map[string]any:
		d = 1
		for _, e := range v {
			d = max(d, 1+tomlDepth(e))
		}
	case []any:
		d = 1
		for _, e := range v {
			d = max(d, 1+tomlDepth(e))
		}
	}
	return d
}

// deepKey returns a dotted key of n components.
func deepKey(n int) string { return "k" + strings.Repeat(".k", n-1) }

// deepShapes are configurations whose deepest value is n levels deep, in
// each way TOML nests: dotted keys, table headers, arrays of tables,
// inline tables, arrays, and all of them at once.
var deepShapes = map[string]func(n int) string{
	"dotted key":      func(n int) string { return deepKey(n) + " = 1\n" },
	"table header":    func(n int) string { return "[" + deepKey(n) + "]\n" },
	"array of tables": func(n int) string { return "[[" + deepKey(n-1) + "]]\n" },
	"inline tables": func(n int) string {
		return "a = " + strings.Repeat("{b = ", n-1) + "1" + strings.Repeat("}", n-1) + "\n"
	},
	"arrays": func(n int) string { return "a = " + strings.Repeat("[", n-1) + "1" + strings.Repeat("]", n-1) + "\n" },
	"mixed": func(n int) string {
		// h.h.a.a = [{b.b = [...]}]: 4 levels, 3 more for each
		// [{b.b =, 1 for each [.
		k := (n - 5) / 3
		rest := n - 4 - 3*k
		return "h.h.a.a = " + strings.Repeat("[{b.b = ", k) + strings.Repeat("[", rest) + "1" + strings.Repeat("]", rest) + strings.Repeat("}]", k) + "\n"
	},
}

func TestParseConfigNesting(t *testing.T) {
	for name, shape := range deepShapes {
		t.Run(name, func(t *testing.T) {
			for _, n := range []int{MaxNesting, MaxNesting + 1} {
				text := shape(n)
				var decoded map[string]any
				if _, err := toml.Decode(text, &decoded); err != nil {
					t.Fatalf("%q does not decode: %v", text, err)
				}
				if d := tomlDepth(decoded); d != n {
					t.Fatalf("%q is %d levels deep, want %d", text, d, n)
				}
				// Three lines before, one of them a multi-line string,
				// so that the line is counted through it.
				text = "# a comment [[[[[[[[[[\ns = \"\"\"one\ntwo\"\"\"\n" + text
				_, err := ParseConfig([]byte(text), "deep.toml")
				if n <= MaxNesting {
					if err != nil {
						t.Errorf("%d levels: %v", n, err)
					}
					continue
				}
				var pe *ParseError
				if !errors.Is(err, ErrTooDeep) || !errors.As(err, &pe) || pe.Line != 4 ||
					!strings.HasPrefix(err.Error(), "deep.toml: line 4: ") {
					t.Errorf("%d levels: %v, want deep.toml line 4 wrapping ErrTooDeep", n, err)
				}
				// A byte-order mark, which the decoder reads over, hides
				// nothing from the scan.
				for _, bom := range []string{"\xef\xbb\xbf", "\xff\xfe", "\xfe\xff"} {
					if _, err := ParseConfig([]byte(bom+shape(n)), "bom.toml"); !errors.Is(err, ErrTooDeep) {
						t.Errorf("%d levels after the BOM %q: %v, want ErrTooDeep", n, bom, err)
					}
				}
			}
		})
	}
}

// TestParseConfigNestingText checks that what only looks deep (brackets,
// braces and dots in strings, comments and quoted keys) is not counted,
// in every kind of string.
func TestParseConfigNestingText(t *testing.T) {
	deep := strings.Repeat("[{", 20) + deepKey(20)
	for _, text := range []string{
		"x = \"" + deep + "\"\n",
		"x = '" + deep + "'\n",
		"x = \"\\\"" + deep + "\\\"\"\n",
		"x = \"\"\"\n" + deep + "\n\\\"\"\"" + deep + "\"\"\"\n",
		"x = \"\"\"" + deep + "\"\"\"\"\"\n",
		"x = '''\n" + deep + "\n'''\n",
		"x = ''''" + deep + "'''''\n",
		"# " + deep + "\nx = 1 # " + deep + "\n",
		"\"" + deepKey(20) + "\" = 1\n",
		"'" + deepKey(20) + "'.b = 1\n",
		"[\"" + deepKey(20) + "\"]\nx = [\"" + deep + "\", '" + deep + "', # " + deep + "\n  1.5e3]\n",
		"x = 1979-05-27T07:32:00.999999-07:00\ny = {a = 1.5, b = \"" + deep + "\"}\n",
	} {
		var decoded map[string]any
		if _, err := toml.Decode(text, &decoded); err != nil {
			t.Fatalf("%q does not decode: %v", text, err)
		}
		if _, err := ParseConfig([]byte(text), "text.toml"); err != nil {
			t.Errorf("%q: %v", text, err)
		}
	}
	// A string that is not closed on its line ends there: what follows is
	// read as TOML again and counted, and the decoder refuses the string.
	text := "x = \"open\n" + deepKey(MaxNesting+1) + " = 1\n"
	if _, err := ParseConfig([]byte(text), "open.toml"); !errors.Is(err, ErrTooDeep) {
		t.Errorf("%q: %v, want ErrTooDeep", text, err)
	}
}

// TestParseConfigTestdata checks that every configuration.toml under
// testdata, as Kata ships them, parses.
func TestParseConfigTestdata(t *testing.T) {
	files, err := filepath.Glob("testdata/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseConfig(data, f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestParseConfigLinear runs ParseConfig on configurations of
// MaxConfigSize/16, MaxConfigSize/8 and MaxConfigSize bytes, nested as
// deep as each shape goes (refused) and MaxNesting deep throughout
// (accepted): allocation must grow linearly with the size. The cumulative
// allocation is the measure because it is deterministic; the CPU time is
// logged, not asserted.
// Before the nesting bound, 32 KiB of nested inline tables allocated
// 3.4 GiB in 16 s, and 64 KiB of table header 13 GiB.
func TestParseConfigLinear(t *testing.T) {
	repeat := func(n int, line func(i int) string) string {
		var b strings.Builder
		for i := 0; ; i++ {
			l := line(i)
			if b.Len()+len(l) > n {
				return b.String()
			}
			b.WriteString(l)
		}
	}
	shapes := map[string]func(n int) string{
		"deep inline tables": func(n int) string { return "a = " + strings.Repeat("{b = ", (n-4)/5) },
		"deep arrays":        func(n int) string { return "a = " + strings.Repeat("[", n-4) },
		"deep dotted key":    func(n int) string { return "a" + strings.Repeat(".b", n/2-1) },
		"deep table header":  func(n int) string { return "[a" + strings.Repeat(".b", n/2-1) },
		"many keys at the limit": func(n int) string {
			return repeat(n, func(i int) string { return fmt.Sprintf("k%d%s = 1\n", i, strings.Repeat(".b", MaxNesting-1)) })
		},
		"many tables at the limit": func(n int) string {
			return repeat(n, func(i int) string { return fmt.Sprintf("[k%d%s]\n", i, strings.Repeat(".b", MaxNesting-1)) })
		},
		"many inline tables at the limit": func(n int) string {
			return repeat(n, func(i int) string {
				return fmt.Sprintf("k%d = %s1%s\n", i, strings.Repeat("{b = ", MaxNesting-1), strings.Repeat("}", MaxNesting-1))
			})
		},
	}
	for name, shape := range shapes {
		t.Run(name, func(t *testing.T) {
			var alloc [3]uint64
			var cpu [3]time.Duration
			sizes := [3]int{MaxConfigSize / 16, MaxConfigSize / 8, MaxConfigSize}
			for i, n := range sizes {
				data := []byte(shape(n))
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				cpu0 := processCPU(t)
				_, err := ParseConfig(data, "big.toml")
				cpu[i] = processCPU(t) - cpu0
				runtime.ReadMemStats(&after)
				alloc[i] = after.TotalAlloc - before.TotalAlloc
				t.Logf("%d bytes: %v; allocated %.1f MiB, CPU %v", len(data), err, float64(alloc[i])/(1<<20), cpu[i].Round(time.Millisecond))
				if strings.HasPrefix(name, "deep") != errors.Is(err, ErrTooDeep) {
					t.Errorf("%d bytes: %v", len(data), err)
				}
			}
			// Twice the input may cost three times as much; 16 times, 24
			// times; and at most 512 bytes are allocated per input byte
			// (the decoder makes maps for every table).
			if alloc[1] > 1<<20 && alloc[1] > 3*alloc[0] || alloc[2] > 1<<20 && alloc[2] > 24*alloc[0] || alloc[2] > 512*MaxConfigSize {
				t.Errorf("allocation grows faster than the input: %d, %d, %d bytes for %v bytes", alloc[0], alloc[1], alloc[2], sizes)
			}
		})
	}
}

// processCPU returns the CPU time the test process has used, which other
// load on the machine does not inflate as it does the wall clock.
func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
