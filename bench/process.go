package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"
)

// program is one command of the process comparison.
type program struct {
	label string
	path  string
	args  []string
	times []time.Duration // wall time
	cpu   []time.Duration // the child's user+system time
}

func (p *program) command() string { return shellJoin(append([]string{p.path}, p.args...)) }

func partB(c *config, b *binaries) error {
	dargs := []string{"-d", c.tree, "-S", c.release, "-D", c.module}
	progs := []*program{
		{label: "gokmod modprobe", path: b.modprobeLink, args: dargs},
		{label: "kmod modprobe", path: "/usr/sbin/modprobe", args: dargs},
		{label: "gokmod modprobe, CGO_ENABLED=0 build", path: b.noCgoLink, args: dargs},
		{label: "Go hello world", path: b.hello},
		{label: "/bin/true", path: "/bin/true"},
	}

	// The two modprobes must agree before their times mean anything.
	outG, errG := exec.Command(progs[0].path, progs[0].args...).CombinedOutput()
	outK, errK := exec.Command(progs[1].path, progs[1].args...).CombinedOutput()
	if errG != nil || errK != nil {
		return fmt.Errorf("modprobe -D %s: gokmod: %v, kmod: %v\n%s\n%s", c.module, errG, errK, outG, outK)
	}
	outN, errN := exec.Command(progs[2].path, progs[2].args...).CombinedOutput()
	if errN != nil {
		return fmt.Errorf("%s: %v\n%s", progs[2].command(), errN, outN)
	}
	same := bytes.Equal(outG, outK) && bytes.Equal(outN, outK)

	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	runOnce := func(p *program) (wall, cpu time.Duration, err error) {
		cmd := exec.Command(p.path, p.args...)
		cmd.Stdout, cmd.Stderr = devnull, devnull
		start := time.Now()
		err = cmd.Run()
		wall = time.Since(start)
		if cmd.ProcessState != nil {
			cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		return wall, cpu, err
	}

	fmt.Fprintf(os.Stderr, "bench: b. %d alternating runs of %d programs\n", c.runs, len(progs))
	for range 10 { // warm-up: page cache, dentries, binaries
		for _, p := range progs {
			if _, _, err := runOnce(p); err != nil {
				return fmt.Errorf("%s: %w", p.command(), err)
			}
		}
	}
	for i := range c.runs {
		// Rotate the order each round so that no program always runs
		// right after the same other one.
		for j := range progs {
			p := progs[(i+j)%len(progs)]
			d, cpu, err := runOnce(p)
			if err != nil {
				return fmt.Errorf("%s: %w", p.command(), err)
			}
			p.times = append(p.times, d)
			p.cpu = append(p.cpu, cpu)
		}
	}

	fmt.Printf("%d runs of each command, alternating (order rotated every round) after 10 untimed warm-up rounds; "+
		"wall time from fork to wait, output to /dev/null; CPU is the child's user+system time from wait4. Both gokmod builds and kmod print identical output: %s.\n\n", c.runs, yesNo(same))
	fmt.Println("| program | median ms | mean ms | min ms | p90 ms | CPU ms (median) | CPU ms (mean) | command |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---|")
	for _, p := range progs {
		med, mean, lo, p90 := stats(p.times)
		cmed, cmean, _, _ := stats(p.cpu)
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | `%s` |\n", p.label, ms(med), ms(mean), ms(lo), ms(p90), ms(cmed), ms(cmean), p.command())
	}
	fmt.Println()
	gm, gmean, _, _ := stats(progs[0].times)
	km, kmean, _, _ := stats(progs[1].times)
	nm, _, _, _ := stats(progs[2].times)
	hm, _, _, _ := stats(progs[3].times)
	gc, _, _, _ := stats(progs[0].cpu)
	kc, _, _, _ := stats(progs[1].cpu)
	fmt.Println("| ratio | value | target | |")
	fmt.Println("|---|---:|---:|---|")
	fmt.Printf("| gokmod / kmod (median) | %.2f | <= 0.8 | %s |\n", ratio(gm, km), verdict(ratio(gm, km) <= 0.8))
	fmt.Printf("| gokmod / kmod (mean) | %.2f | <= 0.8 | %s |\n", ratio(gmean, kmean), verdict(ratio(gmean, kmean) <= 0.8))
	fmt.Printf("| gokmod / kmod (CPU, median) | %.2f | <= 0.8 | %s |\n", ratio(gc, kc), verdict(ratio(gc, kc) <= 0.8))
	fmt.Printf("| gokmod CGO_ENABLED=0 / kmod (median) | %.2f | (info) | |\n", ratio(nm, km))
	fmt.Printf("| Go hello world / kmod (median) | %.2f | (info: the floor for any Go binary) | |\n", ratio(hm, km))
	fmt.Println()
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

// stats returns the median, mean, minimum and 90th percentile of d.
func stats(d []time.Duration) (med, mean, lo, p90 time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, x := range s {
		sum += x
	}
	return medianOf(s), sum / time.Duration(len(s)), s[0], s[(len(s)*9)/10]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }
