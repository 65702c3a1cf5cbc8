// Command bench compares gokmod with kmod's libkmod and modprobe and with
// u-root's kmodule package on one module tree, in one run, and prints
// Markdown tables:
//
//	cd bench && go run . -tree ROOT -release RELEASE
//
// It measures
//
//   - planning every module of modules.dep in one process: gokmod (one
//     Loader, Plan with IgnoreLoaded), libkmod (a C harness compiled at run
//     time with gcc against libkmod-dev: kmod_module_new_from_lookup and a
//     dry-run kmod_module_probe_insert_module for each name) and u-root's
//     kmodule (ProbeOptions with DryRunCB);
//   - whole processes: "gokmod modprobe -d ROOT -S RELEASE -D MODULE"
//     (through a link named modprobe) against kmod's
//     "/usr/sbin/modprobe -d ROOT -S RELEASE -D MODULE", alternating, with
//     a Go hello-world binary and /bin/true for reference;
//   - the Go heap a Loader keeps after opening the tree and planning one
//     module, measured in a fresh child process.
//
// With -rows FILE it also appends its figures to a rows file. Its
// subcommands are the other measurements of scripts/bench.sh, which
// writes docs/benchmarks.md from docs/benchmarks.md.in with them:
//
//	bench ab ...         commands in alternating rounds (wall, CPU, peak RSS)
//	bench xz ...         xz decoding, gokmod against liblzma
//	bench vm LOG...      the VM benchmarks' ratios from go test logs
//	bench samefiles A B  depmod's output files compared
//	bench footprint ...  a program importing gokmod, u-root or pmorjan/kmod
//	bench render ...     the document and the goals' summary
//
// Each prints its usage with -h.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/gokmod/modprobe/internal/modname"
)

type config struct {
	tree, release string
	moduleDir     string
	configPaths   []string
	passes        int
	uPasses       int
	runs          int
	module        string
	repo          string
	skipUroot     bool
	urootSample   int
	parts         string // which of a, b, c to run
	rowsPath      string // rows file to append the figures to; "" for none
}

// subcommands are the measurements scripts/bench.sh runs besides the
// comparison program's own (see each one's usage).
var subcommands = map[string]func([]string) error{
	"ab":        abMain,
	"xz":        xzMain,
	"vm":        vmMain,
	"render":    renderMain,
	"samefiles": sameFilesMain,
	"footprint": footprintMain,
}

func main() {
	if os.Getenv(childEnv) != "" {
		os.Exit(child())
	}
	if len(os.Args) > 1 {
		if sub, ok := subcommands[os.Args[1]]; ok {
			if err := sub(os.Args[2:]); err != nil {
				fatal(err)
			}
			return
		}
	}
	var c config
	var cfgList string
	flag.StringVar(&c.tree, "tree", "", "root of the module tree (modprobe -d); required")
	flag.StringVar(&c.release, "release", "", "kernel release of the tree (modprobe -S); required")
	flag.StringVar(&cfgList, "config", "/etc/modprobe.d:/lib/modprobe.d",
		"colon-separated modprobe.d paths given to gokmod and libkmod in part a; empty for no configuration")
	flag.IntVar(&c.passes, "passes", 7, "timed passes over every module for gokmod and libkmod (after one warm-up pass)")
	flag.IntVar(&c.uPasses, "uroot-passes", 1, "timed passes for u-root's kmodule (after a short warm-up)")
	flag.IntVar(&c.runs, "runs", 200, "runs of each program in the process comparison")
	flag.StringVar(&c.module, "module", "ip_vs_wrr", "module the process comparison asks modprobe -D for")
	flag.StringVar(&c.repo, "repo", "..", "top directory of the gokmod repository (to build cmd/gokmod)")
	flag.BoolVar(&c.skipUroot, "skip-uroot", false, "leave u-root out of part a")
	flag.IntVar(&c.urootSample, "uroot-sample", 0, "time u-root on the first N names only (0: all; its ratio is per module)")
	flag.StringVar(&c.parts, "parts", "abc", "parts to run: a (planning), b (whole process), c (heap)")
	flag.StringVar(&c.rowsPath, "rows", "", "also append the figures to this rows file (see scripts/bench.sh)")
	flag.Parse()
	if c.tree == "" || c.release == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: go run . -tree ROOT -release RELEASE [flags]")
		flag.PrintDefaults()
		os.Exit(2)
	}
	if cfgList != "" {
		c.configPaths = strings.Split(cfgList, ":")
	} else {
		c.configPaths = []string{}
	}
	var err error
	if c.tree, err = filepath.Abs(c.tree); err != nil {
		fatal(err)
	}
	if c.repo, err = filepath.Abs(c.repo); err != nil {
		fatal(err)
	}
	c.moduleDir = c.tree + "/lib/modules/" + c.release
	if err := run(&c); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func run(c *config) error {
	names, err := moduleNames(c.moduleDir)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "gokmod-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// Build everything first so that the header can show the commands.
	bins, err := build(c, tmp)
	if err != nil {
		return err
	}
	printHeader(c, bins, len(names))

	if strings.Contains(c.parts, "a") {
		fmt.Println("## a. Plan every module in one process")
		fmt.Println()
		if err := partA(c, bins, names, tmp); err != nil {
			return err
		}
	}
	if strings.Contains(c.parts, "b") {
		fmt.Println("## b. Whole process: modprobe -D " + c.module)
		fmt.Println()
		if err := partB(c, bins); err != nil {
			return err
		}
	}
	if strings.Contains(c.parts, "c") {
		fmt.Println("## c. Go heap after opening the full tree")
		fmt.Println()
		if err := partC(c); err != nil {
			return err
		}
	}
	fmt.Printf("Load average at the end: %s. On %d CPUs, a load well above 0 means other work shared the machine and the times above are inflated.\n",
		loadAvg(), runtime.NumCPU())
	return nil
}

// moduleNames returns the module name of every line of modules.dep, in
// file order.
func moduleNames(dir string) ([]string, error) {
	// Not an input: the tree the benchmark was pointed at by its runner.
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if file, _, ok := strings.Cut(sc.Text(), ":"); ok {
			names = append(names, modname.FromPath(file))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s/modules.dep lists no module", dir)
	}
	return names, nil
}

func printHeader(c *config, b *binaries, n int) {
	fmt.Println("# gokmod benchmark")
	fmt.Println()
	fmt.Println("```")
	fmt.Printf("date:        %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Printf("command:     (cd bench && go run . %s)\n", shellJoin(os.Args[1:]))
	fmt.Printf("cpu:         %s\n", cpuModel())
	fmt.Printf("nproc:       %d (GOMAXPROCS %d)\n", runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Printf("host kernel: %s\n", firstLine("uname", "-r"))
	fmt.Printf("load avg:    %s (at start; 1, 5, 15 min)\n", loadAvg())
	fmt.Printf("tree:        %s (release %s, %d modules in modules.dep)\n", c.tree, c.release, n)
	fmt.Printf("kmod:        %s; libkmod %s\n", firstLine("/usr/sbin/modprobe", "--version"), firstLine("pkg-config", "--modversion", "libkmod"))
	fmt.Printf("gcc:         %s\n", firstLine("gcc", "--version"))
	fmt.Printf("go:          %s\n", runtime.Version())
	fmt.Printf("gokmod:      %s\n", gokmodVersion(c.repo))
	fmt.Printf("u-root:      %s\n", urootVersion())
	fmt.Printf("harness:     %s\n", b.harnessCmd)
	fmt.Printf("gokmod bin:  %s [%s]\n", b.gokmodCmd, b.gokmodLinking)
	fmt.Printf("no-cgo bin:  %s [%s]\n", b.noCgoCmd, linking(b.noCgo))
	fmt.Println("```")
	fmt.Println()
}
