package coldplug

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/kernel"
	"github.com/gokmod/modprobe/modulesload"
)

// Options adjust Run and Watch.
type Options struct {
	// SysfsDir is where sysfs is mounted; "" means /sys.
	SysfsDir string
	// Jobs is how many aliases load at once; zero means as many as
	// systemd-udevd runs workers by default (twice the CPUs and 16, at
	// most one a 128 MiB of memory but at least 10): probes often wait,
	// and other devices load meanwhile.
	Jobs int
	// DryRun plans the loads and loads nothing (one walk).
	DryRun bool
	// Settle is how long the kernel's uevents must be quiet, once every
	// load has ended, before the devices are walked again and Run ends;
	// zero means DefaultSettle. Devices that come while Run waits are
	// loaded at once, so Settle bounds how late a device may come (a USB
	// disk's SCSI device comes a second after its interface:
	// usb-storage's delay_use), not how long loading takes. Without a
	// uevent socket (not root, not Linux, or SysfsDir set) the walk is
	// repeated at once.
	Settle time.Duration
	// MaxRounds bounds the walks; zero means 16.
	MaxRounds int
	// LoadSG also loads sg, the SCSI generic driver, for every SCSI
	// device while it is not loaded, as Debian's udev does
	// (80-debian-compat.rules, for old tape drivers); upstream udev
	// does not.
	LoadSG bool
	// DevDir is where the device nodes are; "" means /dev. udev's
	// mtd_probe reads an MTD's to tell a SmartMedia card.
	DevDir string
}

// DefaultSettle is Options.Settle's default: twice usb-storage's delay
// before it scans a disk.
const DefaultSettle = 2 * time.Second

// defaultJobs returns Options.Jobs's default: as many loads at once as
// systemd-udevd runs workers by default (its children_max: twice the
// CPUs and 16, but no more than one a 128 MiB of memory, and at least
// 10 of those: 10 in a guest of 1 GiB). A driver's probe often waits
// (for its device, for a delay, for a work queue), and while it does,
// the loads of other devices go on: fewer loaders than that leave the
// devices of the longest chains (a USB disk behind its host controller)
// waiting behind probes that do not concern them.
func defaultJobs() int { return udevWorkers(runtime.NumCPU(), kernel.PhysicalMemory()) }

// udevWorkers is systemd-udevd's default children_max for cpus CPUs and
// mem bytes of memory (0: unknown, no memory bound).
func udevWorkers(cpus int, mem uint64) int {
	n := 2*cpus + 16
	if mem > 0 {
		n = min(n, int(max(mem/(128<<20), 10)))
	}
	return min(n, 2048)
}

// Result is what became of one device.
type Result struct {
	Device
	// Modules are the results of the modules its alias resolved to
	// (empty when it resolved to none: Unmatched).
	Modules []modulesload.Result
	// Unmatched reports an alias no module has.
	Unmatched bool
	// Round is the walk that found the device (0: the first), or -1
	// for a device the kernel announced while the loads ran.
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
// boot: every alias of the first walk (and every module udev's rules
// name for a device, see Device.Drivers) is queued for a pool of loaders
// as the walk finds it (the loads start while the walk goes on), and so is the alias of every device the kernel adds meanwhile (its
// uevent), so that a driver's devices load as soon as they appear; once
// every load has ended and the uevents have been quiet for Settle, sysfs
// is walked again for anything an event did not bring, until a walk
// finds nothing new. The error joins the loads that failed (an alias
// that matched no module, or a module that found no device, is no
// failure, as in udev) and the context's error.
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
		settle = DefaultSettle
	}
	r := &runner{
		ctx: ctx, l: l, rules: newRules(opts), seenDev: map[string]bool{}, seenAlias: map[string]bool{},
		results: map[string][]modulesload.Result{}, inserting: map[string]bool{}, aside: map[string][]queued{},
	}
	r.idle = sync.NewCond(&r.mu)
	r.more = sync.NewCond(&r.mu)
	if !opts.DryRun && opts.SysfsDir == "" {
		// Opened before the first walk, so that no device created by a
		// load goes unseen.
		if f, err := kernel.OpenUevents(); err == nil {
			defer f.Close()
			r.events = f
		}
	}
	if opts.DryRun {
		devs, err := Scan(ctx, opts)
		if err != nil {
			return &Report{}, fmt.Errorf("coldplug: %s: %w", sysfs, err)
		}
		rep := &Report{}
		return rep, dryRun(ctx, l, rep, devs)
	}
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = defaultJobs()
	}
	var workers sync.WaitGroup
	for range jobs {
		workers.Go(r.work)
	}
	var reader sync.WaitGroup
	if r.events != nil {
		reader.Go(func() { r.read(sysfs) })
	}
	// The first walk's devices load as it finds them: the loads, and the
	// devices they bring, start while it goes on.
	if err := r.rules.walk(ctx, func(d Device) { r.add(d, 0) }); err != nil && ctx.Err() == nil {
		r.finish(&reader, &workers)
		return &Report{}, fmt.Errorf("coldplug: %s: %w", sysfs, err)
	}
	for round := 1; round < rounds && ctx.Err() == nil; round++ {
		r.waitQuiet(settle)
		devs, err := Scan(ctx, opts)
		if err != nil {
			break // the context; the device tree itself was there
		}
		fresh := 0
		for _, d := range devs {
			if r.add(d, round) {
				fresh++
			}
		}
		if fresh == 0 {
			break
		}
	}
	r.finish(&reader, &workers)
	return r.report(), errors.Join(append(r.errs, ctx.Err())...)
}

// finish waits for the loads in progress, stops taking devices and ends
// the uevent reader and the workers.
func (r *runner) finish(reader, workers *sync.WaitGroup) {
	r.waitQuiet(0)
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	if r.events != nil {
		r.events.SetReadDeadline(time.Now())
		reader.Wait()
	}
	r.more.Broadcast()
	workers.Wait()
}

// runner is the state of one Run.
type runner struct {
	ctx    context.Context
	l      *modprobe.Loader
	rules  rules
	events *os.File // the uevent socket, or nil

	mu        sync.Mutex
	idle      *sync.Cond          // signalled when pending drops to zero
	more      *sync.Cond          // signalled when an entry is queued or closed is set
	queue     queue               // the entries waiting for a worker
	inserting map[string]bool     // the modules a worker is inserting
	aside     map[string][]queued // the entries waiting for one of those
	pending   int                 // aliases queued or loading
	lastEvent time.Time           // when the last uevent came
	closed    bool                // no more aliases are taken
	seenDev   map[string]bool
	seenAlias map[string]bool
	devices   []Result
	results   map[string][]modulesload.Result
	errs      []error
}

// add takes device d, found in walk round (events count as the walk
// after the current one), queuing its alias and the modules the rules
// name for it that no device had; it reports whether the device is new.
func (r *runner) add(d Device, round int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Not the rules' modules: sg's rule no longer holds once sg is
	// loaded, for the same device.
	key := d.Path + "\x00" + d.Modalias
	if r.closed || r.seenDev[key] {
		return false
	}
	r.seenDev[key] = true
	r.devices = append(r.devices, Result{Device: d, Round: round})
	rk := rank(d, round)
	for _, e := range entries(d) {
		if r.seenAlias[e.Name] {
			continue
		}
		r.seenAlias[e.Name] = true
		r.pending++
		r.queue.push(e, rk)
		r.more.Signal()
	}
	return true
}

// entries returns what loads for device d: its alias, then the modules
// the rules name.
func entries(d Device) []modulesload.Entry {
	var es []modulesload.Entry
	if d.Modalias != "" {
		es = append(es, modulesload.Entry{Name: d.Modalias, File: d.Path})
	}
	for _, name := range d.Drivers {
		es = append(es, modulesload.Entry{Name: name, File: d.Path})
	}
	return es
}

// resultsOf returns the results of device d's loads, given the results
// of each entry by name, and whether its alias matched no module.
func resultsOf(d Device, results map[string][]modulesload.Result) (mods []modulesload.Result, unmatched bool) {
	if d.Modalias != "" {
		rs := results[d.Modalias]
		if len(rs) == 1 && rs[0].Status == modulesload.NotFound && errors.Is(rs[0].Err, modprobe.ErrNotFound) {
			unmatched = true
		} else {
			mods = append(mods, rs...)
		}
	}
	for _, name := range d.Drivers {
		mods = append(mods, results[name]...)
	}
	return mods, unmatched
}

// work loads queued aliases until Run stops taking them. An alias that
// would insert a module another loader is inserting waits aside (see
// claim) and the loader takes the next one, instead of waiting in the
// kernel for that module (the kernel holds a second insertion of a
// module until the first ends): several PCI devices of one driver, a
// dependency two drivers share.
func (r *runner) work() {
	for {
		r.mu.Lock()
		for r.queue.empty() && !r.closed {
			r.more.Wait()
		}
		e, rk, ok := r.queue.pop()
		r.mu.Unlock()
		if !ok {
			return
		}
		mods, ok := r.claim(e, rk)
		if !ok {
			continue
		}
		results, err := modulesload.Load(r.ctx, r.l, []modulesload.Entry{e}, modulesload.LoadOptions{Jobs: 1})
		r.mu.Lock()
		r.release(mods)
		r.results[e.Name] = results
		if err != nil {
			r.errs = append(r.errs, err)
		}
		if r.pending--; r.pending == 0 {
			r.idle.Broadcast()
		}
		r.mu.Unlock()
	}
}

// claim returns the modules entry e (of rank rk) would insert, marked as
// being inserted, and true; or, when another loader is inserting one of
// them, puts e aside until that one ends (release queues it again) and
// returns false. An entry whose plan fails claims nothing: its load
// reports the failure.
func (r *runner) claim(e modulesload.Entry, rk int) ([]string, bool) {
	var mods []string
	if plan, err := r.l.Plan(r.ctx, e.Name, nil, modprobe.PlanOptions{UseBlacklist: true, DeferStateChecks: true}); err == nil {
		for _, pr := range plan.Probes {
			if pr.Skip != modprobe.SkipNone {
				continue
			}
			for _, a := range pr.Actions {
				if !a.Loaded && (a.Kind == modprobe.ActionInsert || a.Kind == modprobe.ActionInstall) && !slices.Contains(mods, a.Module) {
					mods = append(mods, a.Module)
				}
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range mods {
		if r.inserting[m] {
			r.aside[m] = append(r.aside[m], queued{e, rk})
			return nil, false
		}
	}
	for _, m := range mods {
		r.inserting[m] = true
	}
	return mods, true
}

// release marks mods as no longer being inserted and queues again the
// entries that waited for them; r.mu is held.
func (r *runner) release(mods []string) {
	for _, m := range mods {
		delete(r.inserting, m)
		for _, q := range r.aside[m] {
			r.queue.push(q.e, q.rank)
			r.more.Signal()
		}
		delete(r.aside, m)
	}
}

// read takes the devices the kernel adds until the socket's deadline.
func (r *runner) read(sysfs string) {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.events.Read(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		r.lastEvent = time.Now()
		r.mu.Unlock()
		if env, ok := parseUevent(buf[:n]); ok && env["ACTION"] == "add" {
			if d, ok := r.rules.device(filepath.Join(sysfs, env["DEVPATH"]), env["SUBSYSTEM"], env); ok {
				r.add(d, -1)
			}
		}
	}
}

// waitQuiet waits until no load is pending and, with a uevent socket, no
// uevent has come for settle (a context that ends stops the loads, so
// the wait ends too).
func (r *runner) waitQuiet(settle time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		for r.pending > 0 {
			r.idle.Wait()
		}
		if r.events == nil || settle == 0 || r.ctx.Err() != nil {
			return
		}
		quiet := time.Since(r.lastEvent)
		if quiet >= settle {
			return
		}
		r.mu.Unlock()
		time.Sleep(settle - quiet)
		r.mu.Lock()
	}
}

// report returns the devices in the order they were found, each with its
// alias's results.
func (r *runner) report() *Report {
	rep := &Report{}
	for _, d := range r.devices {
		d.Modules, d.Unmatched = resultsOf(d.Device, r.results)
		rep.Devices = append(rep.Devices, d)
	}
	return rep
}

// dryRun plans each alias (and module the rules name) of a walk, once,
// loading nothing.
func dryRun(ctx context.Context, l *modprobe.Loader, rep *Report, devs []Device) error {
	matched := map[string]bool{}
	seen := map[string]bool{}
	for _, d := range devs {
		for _, e := range entries(d) {
			if seen[e.Name] {
				continue
			}
			seen[e.Name] = true
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
	}
	for _, d := range devs {
		rep.Devices = append(rep.Devices, Result{Device: d, Unmatched: d.Modalias != "" && !matched[d.Modalias]})
	}
	return nil
}
