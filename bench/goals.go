package main

// A goal is a target one measured figure must meet: issue 15's table and
// the earlier rows. Pattern matches row IDs (path.Match: "*" stands for
// any run of characters but "/"), so that one goal covers the rows of
// several paths of the same benchmark (the VM benchmarks' library and
// CLI paths); every matching row gets a line of its own.
type goal struct {
	Pattern, Metric string
	What            string
	Op              string  // "<=" or ">="
	Target          float64 // compared with the ratio's median, or with A's when Absolute
	Absolute        bool    // a figure of A alone (the heap), not a ratio
}

// goals are the rows of the top table of docs/benchmarks.md, in order.
var goals = []goal{
	{Pattern: "modprobe-D.debian12", Metric: "wall", What: "whole `modprobe -D ip_vs_wrr` process, Debian 12 tree, gokmod / kmod 30 (wall)", Op: "<=", Target: 0.85},
	{Pattern: "modprobe-D.debian12", Metric: "cpu", What: "the same, CPU (user + system)", Op: "<=", Target: 0.85},
	{Pattern: "modprobe-D.debian13", Metric: "wall", What: "whole `modprobe -D ip_vs_wrr` process, Debian 13 tree, gokmod / kmod 34.2 (wall)", Op: "<=", Target: 0.85},
	{Pattern: "modprobe-D.debian13", Metric: "cpu", What: "the same, CPU (user + system)", Op: "<=", Target: 0.85},
	{Pattern: "oci-hook", Metric: "wall", What: "`gokmod oci-hook -n` process / kmod 30's `modprobe -V` (wall)", Op: "<=", Target: 1.0},
	{Pattern: "vm.debian12.stack*.cli", Metric: "wall", What: "VM, Debian 12 (kernel 6.1, kmod 30): a stack of modules loaded one after the other, gokmod (cli path) / kmod", Op: "<=", Target: 0.95},
	{Pattern: "vm.debian12.stack*.library", Metric: "wall", What: "VM, Debian 12 (kernel 6.1, kmod 30): a stack of modules loaded one after the other, gokmod (library path) / kmod", Op: "<=", Target: 0.95},
	{Pattern: "vm.debian12.loadall*.cli-jobs2", Metric: "wall", What: "VM, Debian 12 (kernel 6.1, kmod 30): independent modules with 2 jobs, gokmod (cli path) / kmod's `modprobe -a`", Op: "<=", Target: 0.6},
	{Pattern: "vm.debian12.loadall*.library-jobs2", Metric: "wall", What: "VM, Debian 12 (kernel 6.1, kmod 30): independent modules with 2 jobs, gokmod (library path) / kmod's `modprobe -a`", Op: "<=", Target: 0.6},
	{Pattern: "vm.debian13.stack*.cli", Metric: "wall", What: "VM, Debian 13 (kernel 6.12, `.ko.xz`, kmod 34.2): a stack of modules loaded one after the other, gokmod (cli path) / kmod", Op: "<=", Target: 0.95},
	{Pattern: "vm.debian13.stack*.library", Metric: "wall", What: "VM, Debian 13 (kernel 6.12, `.ko.xz`, kmod 34.2): a stack of modules loaded one after the other, gokmod (library path) / kmod", Op: "<=", Target: 0.95},
	{Pattern: "vm.debian13.loadall*.cli-jobs2", Metric: "wall", What: "VM, Debian 13 (kernel 6.12, `.ko.xz`, kmod 34.2): independent modules with 2 jobs, gokmod (cli path) / kmod's `modprobe -a`", Op: "<=", Target: 0.6},
	{Pattern: "vm.debian13.loadall*.library-jobs2", Metric: "wall", What: "VM, Debian 13 (kernel 6.12, `.ko.xz`, kmod 34.2): independent modules with 2 jobs, gokmod (library path) / kmod's `modprobe -a`", Op: "<=", Target: 0.6},
	{Pattern: "vm.debian12.coldplug*.gokmod", Metric: "wall", What: "VM, Debian 12: coldplug of the guest's devices to the last module loaded, gokmod coldplug / systemd-udevd (issue 18)", Op: "<=", Target: 0.5},
	{Pattern: "vm.debian13.coldplug*.gokmod", Metric: "wall", What: "VM, Debian 13: coldplug of the guest's devices to the last module loaded, gokmod coldplug / systemd-udevd (issue 18)", Op: "<=", Target: 0.5},
	{Pattern: "xz.debian13", Metric: "cpu/byte", What: "xz decoding, CPU per byte, every Debian 13 module in memory, speed gokmod / Debian 13's liblzma", Op: ">=", Target: 0.7},
	{Pattern: "xz.host", Metric: "cpu/byte", What: "the same, speed gokmod / the host's liblzma", Op: ">=", Target: 0.7},
	{Pattern: "depmod.debian13", Metric: "wall", What: "depmod, Debian 13 tree, gokmod / kmod 34.2 (wall)", Op: "<=", Target: 0.7},
	{Pattern: "depmod.debian13", Metric: "cpu", What: "the same, CPU", Op: "<=", Target: 1.4},
	{Pattern: "depmod.debian13", Metric: "rss", What: "the same, peak RSS", Op: "<=", Target: 1.5},
	{Pattern: "depmod.debian12", Metric: "wall", What: "depmod, Debian 12 tree, gokmod / kmod 30 (wall)", Op: "<=", Target: 0.5},
	{Pattern: "depmod.debian12", Metric: "rss", What: "the same, peak RSS", Op: "<=", Target: 1.5},
	{Pattern: "modinfo.debian13", Metric: "wall", What: "`modinfo` of every Debian 13 module in one process, gokmod / kmod 34.2 (wall)", Op: "<=", Target: 1.0},
	{Pattern: "modinfo.debian13", Metric: "rss", What: "the same, peak RSS", Op: "<=", Target: 1.5},
	{Pattern: "modinfo.debian12", Metric: "wall", What: "`modinfo` of every Debian 12 module in one process, gokmod / kmod 30 (wall)", Op: "<=", Target: 1.0},
	{Pattern: "modinfo.debian12", Metric: "rss", What: "the same, peak RSS", Op: "<=", Target: 1.5},
	{Pattern: "plan.libkmod", Metric: "wall", What: "plan every module in one process, gokmod / libkmod 30 (wall)", Op: "<=", Target: 0.5},
	{Pattern: "plan.uroot", Metric: "wall", What: "plan every module, u-root `ProbeOptions` / gokmod (wall)", Op: ">=", Target: 20},
	{Pattern: "heap", Metric: "heap", What: "Go heap in use after opening the Debian 12 tree and one Plan (MiB)", Op: "<=", Target: 8, Absolute: true},
}

// met tells whether v meets the goal.
func (g goal) met(v float64) bool {
	if g.Op == ">=" {
		return v >= g.Target
	}
	return v <= g.Target
}

// figure returns the figure of r the goal is about.
func (g goal) figure(r row) summary {
	if g.Absolute {
		return r.A
	}
	return r.Ratio
}
