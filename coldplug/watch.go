package coldplug

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/kernel"
	"github.com/gokmod/modprobe/modulesload"
)

// Event is an "add" uevent with a MODALIAS, or one of udev's rules load
// for (Device.Drivers), and what became of it.
type Event struct {
	// Devpath is the device's path below sysfs (DEVPATH), Modalias its
	// MODALIAS ("" for none).
	Devpath, Modalias string
	// Drivers are the modules the rules name for the device.
	Drivers []string
	// Modules are the results of the modules the alias resolved to and
	// of Drivers; Unmatched reports an alias that resolved to none.
	Modules   []modulesload.Result
	Unmatched bool
	// Err is the load's failure, if any.
	Err error
}

// ErrWatch is wrapped by Watch's error when the uevent socket cannot be
// opened or read, or sysfs walked after lost events.
var ErrWatch = errors.New("cannot watch the kernel's uevents")

// Watch loads the alias of every device the kernel adds, and the modules
// udev's rules name for it (Device.Drivers), as udev's kmod builtin
// does, until ctx is done (its error is not returned then), and calls
// report, if not nil, with each event after its load. Events are handled
// one at a time, in order; if the kernel drops some (the socket's buffer
// full), the devices sysfs shows are loaded for instead and those that
// needed a module reported. Of opts, SysfsDir, DevDir and LoadSG apply
// (the rules' view of the device). It is Listen, then Listener.Watch.
func Watch(ctx context.Context, l *modprobe.Loader, opts Options, report func(Event)) error {
	ln, err := Listen()
	if err != nil {
		return err
	}
	defer ln.Close()
	return ln.Watch(ctx, l, opts, report)
}

// Listener is a socket on the kernel's uevents: it keeps the events from
// its opening on, so that a coldplug (Run) between Listen and Watch
// misses no device added meanwhile.
type Listener struct {
	f *os.File
}

// Listen opens the kernel's uevent socket (root on Linux).
func Listen() (*Listener, error) {
	f, err := kernel.OpenUevents()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWatch, err)
	}
	return &Listener{f: f}, nil
}

// Close closes the socket.
func (ln *Listener) Close() error { return ln.f.Close() }

// Watch is the package's Watch on the events ln has kept and those that
// come, until ctx is done. A Listener is watched by one Watch at a time.
func (ln *Listener) Watch(ctx context.Context, l *modprobe.Loader, opts Options, report func(Event)) error {
	f, r := ln.f, newRules(opts)
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			continue
		case errors.Is(err, syscall.ENOBUFS):
			// The socket's buffer filled (a long coldplug between
			// Listen and Watch, a burst): the kernel dropped events.
			// Their devices are in sysfs.
			if err := catchUp(ctx, l, opts, report); err != nil {
				return err
			}
			continue
		case err != nil:
			return fmt.Errorf("%w: %w", ErrWatch, err)
		}
		env, ok := parseUevent(buf[:n])
		if !ok || env["ACTION"] != "add" {
			continue
		}
		d, ok := r.device(filepath.Join(r.sysfs, env["DEVPATH"]), env["SUBSYSTEM"], env)
		if !ok {
			continue
		}
		ev := load(ctx, l, d)
		ev.Devpath = env["DEVPATH"]
		if report != nil {
			report(ev)
		}
	}
}

// load loads what device d needs, one module after the other, and
// returns the event that reports it (Devpath left to the caller).
func load(ctx context.Context, l *modprobe.Loader, d Device) Event {
	results, err := modulesload.Load(ctx, l, entries(d), modulesload.LoadOptions{Jobs: 1})
	byName := map[string][]modulesload.Result{}
	for _, res := range results {
		byName[res.Entry.Name] = append(byName[res.Entry.Name], res)
	}
	ev := Event{Modalias: d.Modalias, Drivers: d.Drivers, Err: err}
	ev.Modules, ev.Unmatched = resultsOf(d, byName)
	return ev
}

// catchUp loads, after lost events, what the devices sysfs shows need,
// and reports the devices for which a module was inserted or failed
// (the others had theirs). Only a walk that cannot start is an error.
func catchUp(ctx context.Context, l *modprobe.Loader, opts Options, report func(Event)) error {
	devs, err := Scan(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%w: after lost events: %w", ErrWatch, err)
	}
	sysfs := newRules(opts).sysfs
	for _, d := range devs {
		ev := load(ctx, l, d)
		if ctx.Err() != nil {
			return nil
		}
		news := ev.Err != nil
		for _, m := range ev.Modules {
			news = news || m.Status == modulesload.Inserted
		}
		if news && report != nil {
			ev.Devpath = strings.TrimPrefix(d.Path, sysfs)
			report(ev)
		}
	}
	return nil
}

// parseUevent reads a kernel uevent message ("ACTION@DEVPATH" then
// NUL-separated KEY=VALUE pairs) into its properties, and reports
// whether it is the kernel's (udev's own messages start "libudev").
func parseUevent(msg []byte) (map[string]string, bool) {
	fields := bytes.Split(msg, []byte{0})
	if len(fields) < 2 || !bytes.Contains(fields[0], []byte("@")) {
		return nil, false
	}
	env := map[string]string{}
	for _, f := range fields[1:] {
		if k, v, ok := strings.Cut(string(f), "="); ok && k != "" {
			env[k] = v
		}
	}
	return env, env["ACTION"] != "" && env["DEVPATH"] != ""
}
