package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/modprobe/internal/testmod"
)

// manyParamsModule writes a module whose .modinfo holds n parm= and n
// parmtype= entries for n distinct parameters, and returns its path.
func manyParamsModule(t *testing.T, n int) string {
	t.Helper()
	info := make([]string, 0, 2*n+1)
	info = append(info, "license=GPL")
	for i := range n {
		info = append(info, fmt.Sprintf("parm=p%d:parameter %d", i, i), fmt.Sprintf("parmtype=p%d:int", i))
	}
	img, err := (&testmod.Module{Name: "many", ModInfo: info}).ELF()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "many.ko")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// processCPU returns the CPU time the test process has used.
func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestModinfoManyParamsLinear runs modinfo (all fields, and -p) on
// modules with 100,000 parameters, after pilots at 1/16 and 1/8 of that:
// allocation must grow linearly (kmod's modinfo, and gokmod's before it
// merged parameters through a map, search and prepend to a list for each
// entry: 38 GiB and 50 s at 100,000). The cumulative allocation is the
// measure because it is deterministic; the CPU time is logged, not
// asserted (a CI run saw it vary by half between runs under -race). The
// output is checked in full at every size, and against kmod's modinfo at
// the smallest.
func TestModinfoManyParamsLinear(t *testing.T) {
	const full = 100_000
	for _, args := range [][]string{nil, {"-p"}} {
		t.Run(strings.Join(append([]string{"modinfo"}, args...), " "), func(t *testing.T) {
			type run struct {
				n     int
				alloc uint64
				cpu   time.Duration
			}
			var runs []run
			for _, n := range []int{full / 16, full / 8, full} {
				path := manyParamsModule(t, n)
				argv := append(append([]string{}, args...), path)
				if n == full/16 {
					testmod.RequireTool(t, "modinfo")
					ref30().compare(t, "modinfo", argv, nil)
				}
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				cpu := processCPU(t)
				out := ref30().ours("modinfo", argv, nil)
				cpu = processCPU(t) - cpu
				runtime.ReadMemStats(&after)
				r := run{n, after.TotalAlloc - before.TotalAlloc, cpu}
				runs = append(runs, r)
				t.Logf("%d parameters: allocated %.1f MiB, CPU %v", n, float64(r.alloc)/(1<<20), r.cpu.Round(time.Millisecond))
				if out.Code != 0 || out.Stderr != "" {
					t.Fatalf("%d parameters: %v", n, out)
				}
				checkManyParams(t, out.Stdout, n, args != nil)
			}
			small, big, all := runs[0], runs[1], runs[2]
			// Twice the entries may cost at most three times as much, and
			// the full size at most 3*8 times the 1/16 pilot's (linear is 16).
			if big.alloc > 4<<20 && big.alloc > 3*small.alloc || all.alloc > 24*small.alloc {
				t.Errorf("allocation grows faster than the entries: %d, %d, %d bytes at %d, %d, %d", small.alloc, big.alloc, all.alloc, small.n, big.n, all.n)
			}
		})
	}
}

// checkManyParams checks modinfo's output for manyParamsModule(n): the
// parameters in reverse order of appearance, each with its description
// and type.
func checkManyParams(t *testing.T, out string, n int, onlyParams bool) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < n {
		t.Fatalf("%d lines of output, want at least %d", len(lines), n)
	}
	lines = lines[len(lines)-n:]
	for i, line := range lines {
		p := n - 1 - i
		want := fmt.Sprintf("%-16sp%d:parameter %d (int)", "parm:", p, p)
		if onlyParams {
			want = fmt.Sprintf("p%d:parameter %d (int)", p, p)
		}
		if line != want {
			t.Fatalf("line %d of the parameters is %q, want %q", i, line, want)
		}
	}
}
