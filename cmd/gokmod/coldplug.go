package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/coldplug"
	"github.com/gokmod/modprobe/internal/cli"
	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/getopt"
	"github.com/gokmod/modprobe/modulesload"
)

const coldplugUsage = `Usage: %s [options]
Loads the drivers for the devices sysfs shows, as udev does at boot
(udevadm trigger --action=add): each device's MODALIAS, and the modules
udev's 80-drivers.rules names (tifm, memstick, i2o, ppdev, sm_ftl) and,
when this system's udev rules have Debian's line, sg for SCSI devices;
the blacklist applied, a name no module has being no error; walks again
after the loads until no new device appears.

Options:
	-n, --dry-run         Print what would be loaded, load nothing
	-v, --verbose         Print each device and what became of it
	-b, --use-blacklist   Apply the blacklist (always on, as in udev)
	-d, --dirname=DIR     Use DIR as the root for /lib/modules
	    --sysfs=DIR       Walk DIR/devices instead of /sys/devices
	    --settle=DURATION How long the kernel's events must be quiet before
	                      it ends (default 2s; devices that come meanwhile load
	                      at once)
	    --watch           Then load for every device the kernel adds, until
	                      SIGTERM or SIGINT, which end it with the coldplug's
	                      status (hotplug, for a system without udev;
	                      with -v, "watching for devices" says it began)
	-h, --help            Print this help

GOKMOD_JOBS sets how many aliases load at once (default: as many as
systemd-udevd's workers: twice the CPUs and 16, at most one a 128 MiB
of memory but at least 10).
`

const (
	optSysfs = 3000 + iota
	optWatch
	optSettle
)

// runColdplug is gokmod coldplug (package coldplug).
func runColdplug(e *env, argv0 string, args []string) int {
	m := newModprobeCmd(e, argv0)
	return m.run(func(m *modprobeCmd) int {
		var (
			opts    coldplug.Options
			root    string
			verbose bool
			watch   bool
		)
		p := getopt.New(argv0, args, "nvbd:h", []getopt.Option{
			{Name: "dry-run", Val: 'n'},
			{Name: "verbose", Val: 'v'},
			{Name: "use-blacklist", Val: 'b'},
			{Name: "dirname", HasArg: getopt.RequiredArgument, Val: 'd'},
			{Name: "sysfs", HasArg: getopt.RequiredArgument, Val: optSysfs},
			{Name: "watch", Val: optWatch},
			{Name: "settle", HasArg: getopt.RequiredArgument, Val: optSettle},
			{Name: "help", Val: 'h'},
		}, e.Stderr)
		for c, arg := range p.Options() {
			switch c {
			case 'n':
				opts.DryRun = true
			case 'v':
				verbose = true
			case 'b':
			case 'd':
				root = arg
			case optSysfs:
				opts.SysfsDir = arg
			case optWatch:
				watch = true
			case optSettle:
				d, err := time.ParseDuration(arg)
				if err != nil || d <= 0 {
					fmt.Fprintf(e.Stderr, "coldplug: --settle=%q is not a positive duration (2s, 500ms)\n", arg)
					return 1
				}
				opts.Settle = d
			case 'h':
				fmt.Fprintf(m.out, coldplugUsage, cli.UsageName(argv0, "coldplug"))
				return 0
			default:
				return 1
			}
		}
		if ops := p.Operands(); len(ops) > 0 {
			fmt.Fprintf(e.Stderr, "coldplug: unexpected argument %q. See -h.\n", ops[0])
			return 1
		}
		compat, err := compatFromEnv(e)
		if err != nil {
			fmt.Fprintf(e.Stderr, "coldplug: %v\n", err)
			return 1
		}
		if v, ok := e.Getenv("GOKMOD_JOBS"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				opts.Jobs = n
			}
		}
		opts.LoadSG = udevLoadsSG(udevRulesDirs)
		lopts := modprobe.Options{RootDir: root, Compat: compat, Logger: slog.New(slog.DiscardHandler)}
		if opts.SysfsDir != "" {
			lopts.SysfsDir = opts.SysfsDir
		}
		l, err := e.OpenLoader(lopts)
		if err != nil {
			fmt.Fprintf(e.Stderr, "coldplug: %v\n", err)
			return 1
		}
		defer l.Close()
		ctx := e.Context()
		var ln *coldplug.Listener
		if watch && !opts.DryRun {
			// Listening from before the coldplug, so that a device added
			// during it is not lost.
			if ln, err = coldplug.Listen(); err != nil {
				fmt.Fprintf(e.Stderr, "coldplug: %v\n", err)
				return 1
			}
			defer ln.Close()
		}
		rep, err := coldplug.Run(ctx, l, opts)
		if rep != nil {
			printColdplug(m, rep, verbose, opts.DryRun)
		}
		status := 0
		if err != nil {
			fmt.Fprintf(e.Stderr, "coldplug: %v\n", err)
			status = 1
		}
		if ln != nil && ctx.Err() == nil {
			if verbose {
				fmt.Fprintf(m.out, "watching for devices\n")
				m.out.Flush()
			}
			err := ln.Watch(ctx, l, opts, func(ev coldplug.Event) {
				if verbose || ev.Err != nil {
					fmt.Fprintf(m.out, "%s %s: %s\n", ev.Devpath, label(ev.Modalias, ev.Drivers), describe(ev.Modules, ev.Unmatched))
					m.out.Flush()
				}
			})
			if err != nil {
				fmt.Fprintf(e.Stderr, "coldplug: %v\n", err)
				status = 1
			}
			// SIGTERM or SIGINT is how a watch ends: no failure.
			return status
		}
		if m.env.Interrupted() != nil {
			return 1
		}
		return status
	})
}

// printColdplug prints the report: with -n the actions a load would take,
// with -v a line a device; failures always.
func printColdplug(m *modprobeCmd, rep *coldplug.Report, verbose, dryRun bool) {
	if dryRun {
		for _, plan := range rep.Planned {
			for _, pr := range plan.Probes {
				_ = pr.DryRun(modprobe.DryRunOptions{}, func(a modprobe.Action) {
					fmt.Fprintf(m.out, "%s\n", a)
				})
			}
		}
		if !verbose {
			return
		}
	}
	for _, d := range rep.Devices {
		failed := false
		for _, r := range d.Modules {
			failed = failed || r.Status == modulesload.Failed
		}
		if verbose || failed {
			fmt.Fprintf(m.out, "%s %s: %s\n", d.Path, label(d.Modalias, d.Drivers), describe(d.Modules, d.Unmatched))
		}
	}
}

// label names what loads for a device: its alias, or the modules udev's
// rules name for a device without one.
func label(modalias string, drivers []string) string {
	if modalias == "" {
		return "(" + strings.Join(drivers, " ") + ")"
	}
	return modalias
}

// udevRulesDirs are the directories udev reads rules from, the first
// holding a file name hiding it in the others (a link to /dev/null masks
// it).
var udevRulesDirs = []string{"/etc/udev/rules.d", "/run/udev/rules.d", "/usr/local/lib/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d"}

// udevLoadsSG reports whether this system's udev loads sg for every SCSI
// device: a rules file that counts in dirs (udevRulesDirs) has Debian's
// line (80-debian-compat.rules: SUBSYSTEM=="scsi",
// ENV{DEVTYPE}=="scsi_device", ..., RUN{builtin}+="kmod load sg").
func udevLoadsSG(dirs []string) bool {
	seen := map[string]bool{}
	for _, dir := range dirs {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			name := e.Name()
			if !strings.HasSuffix(name, ".rules") || seen[name] {
				continue
			}
			seen[name] = true
			data, err := fileio.ReadFile(filepath.Join(dir, name), 1<<20)
			if err != nil {
				continue
			}
			for line := range strings.Lines(string(data)) {
				line = strings.TrimSpace(line)
				if !strings.HasPrefix(line, "#") && strings.Contains(line, `"scsi_device"`) && strings.Contains(line, `"kmod load sg"`) {
					return true
				}
			}
		}
	}
	return false
}

// describe says what became of a device's modules.
func describe(mods []modulesload.Result, unmatched bool) string {
	if unmatched {
		return "no module"
	}
	var parts []string
	for _, r := range mods {
		s := r.Module + " " + r.Status.String()
		if r.Status == modulesload.Failed && r.Err != nil {
			s += " (" + r.Err.Error() + ")"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "planned"
	}
	return strings.Join(parts, ", ")
}
