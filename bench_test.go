package modprobe_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/modname"
	"github.com/gokmod/modprobe/internal/testmod"
)

// These benchmarks run on the module tree of Debian's current
// linux-image-amd64 package, indexed by kmod's depmod (make setup prepares
// it; see docs/benchmarks.md). Without the tree they are skipped, or fail
// when CI=true.

// benchHeapTarget is the most Go heap a Loader may keep after opening the full
// Debian tree and planning one module: the indexes are mapped, not read.
const benchHeapTarget = 8 << 20

// benchOpenDebian opens a Loader on the Debian tree with the system's default
// modprobe.d directories, as modprobe does.
func benchOpenDebian(tb testing.TB) *modprobe.Loader {
	tb.Helper()
	root, release := testmod.DebianTree(tb)
	l, err := modprobe.Open(modprobe.Options{RootDir: root, KernelRelease: release})
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// benchModuleNames returns the module name of every line of the tree's
// modules.dep, in file order.
func benchModuleNames(tb testing.TB, l *modprobe.Loader) []string {
	tb.Helper()
	f, err := os.Open(filepath.Join(l.ModuleDir(), "modules.dep"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		file, _, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		names = append(names, modname.FromPath(file))
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(names) == 0 {
		tb.Fatal("modules.dep lists no module")
	}
	return names
}

// BenchmarkPlanEveryModule plans every module of modules.dep, as
// modprobe --show-depends would, with one Loader. One iteration is the
// whole tree; ns/module is the figure to compare with libkmod.
func BenchmarkPlanEveryModule(b *testing.B) {
	l := benchOpenDebian(b)
	defer l.Close()
	names := benchModuleNames(b, l)
	opts := modprobe.PlanOptions{IgnoreLoaded: true}
	// Fail early, outside the timed loop, on a module that does not plan.
	for _, n := range names {
		if _, err := l.Plan(context.Background(), n, nil, opts); err != nil {
			b.Fatalf("Plan(%q): %v", n, err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	iters := 0
	for b.Loop() {
		for _, n := range names {
			if _, err := l.Plan(context.Background(), n, nil, opts); err != nil {
				b.Fatal(err)
			}
		}
		iters++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(iters*len(names)), "ns/module")
	b.ReportMetric(float64(len(names)), "modules")
}

// benchAliases are modaliases of real devices (and one request-module
// alias) with the modules Debian's kmod resolves them to in the Debian
// tree, and one that matches nothing, which walks the whole lookup chain.
var benchAliases = []struct {
	name, alias string
	want        []string
}{
	{"PCI-e1000e", "pci:v00008086d000015B8sv00001028sd000007A1bc02sc00i00", []string{"e1000e"}},
	{"PCI-nvme", "pci:v0000144Dd0000A808sv0000144Dsd0000A801bc01sc08i02", []string{"nvme"}},
	{"PCI-xhci", "pci:v00008086d0000A36Dsv00001028sd00000869bc0Csc03i30", []string{"xhci_pci"}},
	{"USB-storage", "usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00", []string{"uas", "usb_storage"}},
	{"virtio-net", "virtio:d00000001v00001AF4", []string{"virtio_net"}},
	{"input-evdev", "input:b0003v046DpC52Be0111-e0,1,2,4,k71,72,73,ramlsfw", []string{"evdev"}},
	{"fs-ext4", "fs-ext4", []string{"ext4"}},
	{"miss", "pci:v0000FFFFd0000FFFFsv0000FFFFsd0000FFFFbcFFscFFiFF", nil},
}

// BenchmarkLookupAlias resolves modaliases through the whole lookup chain
// (modprobe.d, modules.dep, symbols, commands, modules.alias, builtin).
func BenchmarkLookupAlias(b *testing.B) {
	l := benchOpenDebian(b)
	defer l.Close()
	for _, a := range benchAliases {
		b.Run(a.name, func(b *testing.B) {
			mods, err := l.Lookup(context.Background(), a.alias)
			if a.want == nil {
				if !errors.Is(err, modprobe.ErrNotFound) {
					b.Fatalf("Lookup(%q) = %v, %v; want ErrNotFound", a.alias, mods, err)
				}
			} else {
				if err != nil {
					b.Fatalf("Lookup(%q): %v", a.alias, err)
				}
				var got []string
				for _, m := range mods {
					got = append(got, m.Name)
				}
				if strings.Join(got, " ") != strings.Join(a.want, " ") {
					b.Fatalf("Lookup(%q) = %v, want %v", a.alias, got, a.want)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				_, _ = l.Lookup(context.Background(), a.alias)
			}
		})
	}
}

// BenchmarkOpen measures what a modprobe process pays before its first
// answer: reading the configuration, mapping the indexes on the first
// lookup, and unmapping them.
func BenchmarkOpen(b *testing.B) {
	root, release := testmod.DebianTree(b)
	b.ReportAllocs()
	for b.Loop() {
		l, err := modprobe.Open(modprobe.Options{RootDir: root, KernelRelease: release})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.Lookup(context.Background(), "ip_vs_wrr"); err != nil {
			b.Fatal(err)
		}
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHeapAfterOpen checks that a Loader on the full Debian tree, after
// one Plan, keeps at most benchHeapTarget bytes of Go heap: the indexes must be
// mapped, not copied into the heap.
func TestHeapAfterOpen(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping heap measurement in -short mode")
	}
	root, release := testmod.DebianTree(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	l, err := modprobe.Open(modprobe.Options{RootDir: root, KernelRelease: release})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	plan, err := l.Plan(context.Background(), "ip_vs_wrr", nil, modprobe.PlanOptions{IgnoreLoaded: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Probes) != 1 || len(plan.Probes[0].Actions) == 0 {
		t.Fatalf("Plan(ip_vs_wrr) = %+v, want one probe with actions", plan)
	}

	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(l)
	runtime.KeepAlive(plan)

	t.Logf("Go heap after Open+Plan: HeapInuse %s (before Open %s, +%s), HeapAlloc %s (+%s), Sys %s",
		benchMiB(after.HeapInuse), benchMiB(before.HeapInuse), benchMiB(benchSub(after.HeapInuse, before.HeapInuse)),
		benchMiB(after.HeapAlloc), benchMiB(benchSub(after.HeapAlloc, before.HeapAlloc)), benchMiB(after.Sys))
	if after.HeapInuse > benchHeapTarget {
		t.Errorf("Go heap in use after Open of the full tree and one Plan is %s, want <= %s",
			benchMiB(after.HeapInuse), benchMiB(benchHeapTarget))
	}
}

func benchSub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

func benchMiB(n uint64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }
