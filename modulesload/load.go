package modulesload

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"syscall"

	"github.com/gokmod/modprobe"
)

// Status is what became of one module of an entry.
type Status int

// Statuses, with systemd-modules-load's words for them.
const (
	// Inserted: the module went into the kernel.
	Inserted Status = iota
	// AlreadyLoaded: the module was live.
	AlreadyLoaded
	// Builtin: the module is built into the kernel.
	Builtin
	// Blacklisted: the blacklist skips the module ("deny-listed").
	Blacklisted
	// NotFound: the name matches no module, or the module file is
	// missing (ENOENT); no failure.
	NotFound
	// NoDevice: the module's init found no device (ENODEV); no failure.
	NoDevice
	// Failed: anything else: systemd-modules-load fails.
	Failed
)

// String returns the status's word.
func (s Status) String() string {
	switch s {
	case Inserted:
		return "inserted"
	case AlreadyLoaded:
		return "already loaded"
	case Builtin:
		return "builtin"
	case Blacklisted:
		return "deny-listed"
	case NotFound:
		return "not found"
	case NoDevice:
		return "no device"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is what became of one module an entry resolved to (or of the
// entry, when it resolved to none).
type Result struct {
	Entry  Entry
	Module string // the module; the entry's name when none was found
	Status Status
	Err    error // for NotFound, NoDevice and Failed
}

// LoadOptions adjust Load.
type LoadOptions struct {
	// Jobs is how many entries load at once; zero means the number of
	// CPUs. Each entry's modules load in order, dependencies first.
	Jobs int
}

// Load loads every entry with l as systemd-modules-load does: the
// entry's name is looked up (an alias may stand for several modules),
// each module not live or builtin is loaded with its dependencies and
// softdeps, the blacklist applied to the module itself. It returns a
// result per module in entry order, and an error joining the failures
// (none for NotFound and NoDevice): the exit status of
// systemd-modules-load is 1 exactly when the error is not nil. A done
// context stops the entries not yet started; theirs are not reported.
func Load(ctx context.Context, l *modprobe.Loader, entries []Entry, opts LoadOptions) ([]Result, error) {
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	per := make([][]Result, len(entries))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(jobs, len(entries)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				per[i] = loadEntry(ctx, l, entries[i])
			}
		}()
	}
feed:
	for i := range entries {
		if ctx.Err() != nil {
			break
		}
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	var results []Result
	var errs []error
	for _, rs := range per {
		for _, r := range rs {
			results = append(results, r)
			if r.Status == Failed {
				errs = append(errs, r.Err)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return results, errors.Join(errs...)
}

// loadEntry loads one entry's modules.
func loadEntry(ctx context.Context, l *modprobe.Loader, e Entry) []Result {
	plan, err := l.Plan(ctx, e.Name, nil, modprobe.PlanOptions{UseBlacklist: true, DeferStateChecks: true})
	if err != nil {
		st := Failed
		if errors.Is(err, modprobe.ErrNotFound) {
			st = NotFound
		}
		return []Result{{Entry: e, Module: e.Name, Status: st, Err: fmt.Errorf("%s: %w", e.Source(), err)}}
	}
	var out []Result
	for i := range plan.Probes {
		pr := &plan.Probes[i]
		r := Result{Entry: e, Module: pr.Module.Name}
		switch pr.Skip {
		case modprobe.SkipLoaded:
			r.Status = AlreadyLoaded
			if pr.Module.Builtin {
				r.Status = Builtin
			}
		case modprobe.SkipBlacklisted:
			r.Status = Blacklisted
		default:
			r.Status = Inserted
			if err := l.LoadProbe(ctx, pr, modprobe.LoadOptions{}); err != nil {
				r.Err = fmt.Errorf("%s: %w", e.Source(), err)
				switch {
				case errors.Is(err, syscall.ENODEV):
					r.Status = NoDevice
				case errors.Is(err, syscall.ENOENT):
					r.Status = NotFound
				default:
					r.Status = Failed
				}
			}
		}
		out = append(out, r)
	}
	return out
}
