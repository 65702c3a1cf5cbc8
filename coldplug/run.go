package coldplug

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/kernel"
	"github.com/gokmod/modprobe/modulesload"
)

// Options adjust Run and Watch.
type Options struct {
	// SysfsDir is where sysfs is mounted; "" means /sys.
	SysfsDir string
	// Jobs is how many aliases load at once; zero means the number of
	// CPUs.
	Jobs int
	// DryRun plans the loads and loads nothing (one walk).
	DryRun bool
	// Settle is how long the kernel's uevents must be quiet after a
	// round of loads before the devices are walked again; zero means
	// 200 ms. Without a uevent socket (not root, not Linux) the walk is
	// repeated at once.
	Settle time.Duration
	// MaxRounds bounds the walks; zero means 16.
	MaxRounds int
}

// Result is what became of one device.
type Result struct {
	Device
	// Modules are the results of the modules its alias resolved to
	// (empty when it resolved to none: Unmatched).
	Modules []modulesload.Result
	// Unmatched reports an alias no module has.
	Unmatched bool
	// Round is the walk that found the device (0: the first).
	Round int
}

// Report is what Run did, device by device, in the order they were
// found.
type Report struct {
	Devices []Result
	// Planned holds, for a dry run, the plan of each alias that matched.
	Planned []*modprobe.Plan
}

// Run loads the drivers of the devices sysfs shows, as udev does at
// boot, walking again after each round of loads until no device with a
// new alias appears. The error joins the loads that failed (a module
// that matched no alias or found no device is no failure, as in udev)
// and the context's error.
func Run(ctx context.Context, l *modprobe.Loader, opts Options) (*Report, error) {
	sysfs := opts.SysfsDir
	if sysfs == "" {
		sysfs = "/sys"
	}
	rounds := opts.MaxRounds
	if rounds <= 0 {
		rounds = 16
	}
	settle := opts.Settle
	if settle <= 0 {
		settle = 200 * time.Millisecond
	}
	var events *os.File
	if !opts.DryRun && opts.SysfsDir == "" {
		// Opened before the first walk, so that no device created by a
		// load goes unseen.
		if f, err := kernel.OpenUevents(); err == nil {
			events = f
			defer events.Close()
		}
	}
	rep := &Report{}
	seen := map[string]bool{}
	var errs []error
	for round := 0; round < rounds; round++ {
		devs, err := Scan(ctx, sysfs)
		if err != nil {
			return rep, fmt.Errorf("coldplug: %s: %w", sysfs, err)
		}
		var fresh []Device
		var entries []modulesload.Entry
		for _, d := range devs {
			if seen[d.Path+"\x00"+d.Modalias] {
				continue
			}
			seen[d.Path+"\x00"+d.Modalias] = true
			fresh = append(fresh, d)
			if !seen["\x00"+d.Modalias] {
				seen["\x00"+d.Modalias] = true
				entries = append(entries, modulesload.Entry{Name: d.Modalias, File: d.Path})
			}
		}
		if len(fresh) == 0 {
			break
		}
		if opts.DryRun {
			return rep, dryRun(ctx, l, rep, fresh, entries)
		}
		results, err := modulesload.Load(ctx, l, entries, modulesload.LoadOptions{Jobs: opts.Jobs})
		if err != nil {
			errs = append(errs, err)
		}
		byAlias := map[string][]modulesload.Result{}
		for _, r := range results {
			byAlias[r.Entry.Name] = append(byAlias[r.Entry.Name], r)
		}
		for _, d := range fresh {
			res := Result{Device: d, Round: round, Modules: byAlias[d.Modalias]}
			if len(res.Modules) == 1 && res.Modules[0].Status == modulesload.NotFound && errors.Is(res.Modules[0].Err, modprobe.ErrNotFound) {
				res.Modules, res.Unmatched = nil, true
			}
			rep.Devices = append(rep.Devices, res)
		}
		if ctx.Err() != nil {
			break
		}
		waitQuiet(ctx, events, settle)
	}
	return rep, errors.Join(errs...)
}

// waitQuiet waits until no uevent has come for settle (at most a few
// seconds in all); it returns at once without a socket.
func waitQuiet(ctx context.Context, events *os.File, settle time.Duration) {
	if events == nil {
		return
	}
	buf := make([]byte, 64<<10)
	limit := time.Now().Add(30 * settle)
	for time.Now().Before(limit) && ctx.Err() == nil {
		events.SetReadDeadline(time.Now().Add(settle))
		if _, err := events.Read(buf); err != nil {
			return // quiet for settle (a deadline), or the socket failed
		}
	}
}

// dryRun plans each alias of a walk, loading nothing.
func dryRun(ctx context.Context, l *modprobe.Loader, rep *Report, devs []Device, entries []modulesload.Entry) error {
	matched := map[string]bool{}
	for _, e := range entries {
		plan, err := l.Plan(ctx, e.Name, nil, modprobe.PlanOptions{UseBlacklist: true})
		switch {
		case errors.Is(err, modprobe.ErrNotFound):
			continue
		case err != nil:
			return err
		}
		matched[e.Name] = true
		rep.Planned = append(rep.Planned, plan)
	}
	for _, d := range devs {
		rep.Devices = append(rep.Devices, Result{Device: d, Unmatched: !matched[d.Modalias]})
	}
	return nil
}
