package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/coldplug"
	"github.com/gokmod/modprobe/internal/cli"
	"github.com/gokmod/modprobe/internal/getopt"
	"github.com/gokmod/modprobe/modulesload"
)

const coldplugUsage = `Usage: %s [options]
Loads the drivers for the devices sysfs shows, as udev does at boot
(udevadm trigger --action=add): each device's MODALIAS, the blacklist
applied, a name no module has being no error; walks again after the
loads until no new device appears.

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
	                      SIGTERM or SIGINT (hotplug, for a system without udev)
	-h, --help            Print this help

GOKMOD_JOBS sets how many aliases load at once (default: the CPUs).
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
		rep, err := coldplug.Run(ctx, l, opts)
		if rep != nil {
			printColdplug(m, rep, verbose, opts.DryRun)
		}
		status := 0
		if err != nil {
			fmt.Fprintf(e.Stderr, "coldplug: %v\n", err)
			status = 1
		}
		if watch && !opts.DryRun && ctx.Err() == nil {
			err := coldplug.Watch(ctx, l, opts, func(ev coldplug.Event) {
				if verbose || ev.Err != nil {
					fmt.Fprintf(m.out, "%s %s: %s\n", ev.Devpath, ev.Modalias, describe(ev.Modules, ev.Unmatched))
					m.out.Flush()
				}
			})
			if err != nil {
				fmt.Fprintf(e.Stderr, "coldplug: %v\n", err)
				status = 1
			}
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
			fmt.Fprintf(m.out, "%s %s: %s\n", d.Path, d.Modalias, describe(d.Modules, d.Unmatched))
		}
	}
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
