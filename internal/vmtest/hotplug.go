package vmtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"sync"
)

// HotplugMarker starts the console line on which a guest asks the host to
// add a device while it runs: "GOKMOD-VM-DEVICE-ADD: NAME", NAME a key of
// Machine.Hotplug. RequestDevice prints it.
const HotplugMarker = "GOKMOD-VM-DEVICE-ADD: "

// hotplugLine matches a request on a console line (kernel messages may
// precede it).
var hotplugLine = regexp.MustCompile(regexp.QuoteMeta(HotplugMarker) + `([A-Za-z0-9_.-]+)\r?$`)

// ErrHotplug is wrapped by Run's error when a device the guest asked for
// could not be added: a name Machine.Hotplug lacks, or qemu's refusal.
var ErrHotplug = errors.New("the guest's device could not be added")

// RequestDevice asks the host, from inside the VM, to add the device
// Machine.Hotplug names name: it prints the request on the console
// (standard output, GuestMain's). The host adds it through qemu's monitor
// as soon as it reads the line; the guest learns of it as of any hotplug,
// from the kernel. A request the host cannot carry out fails the host's
// Run.
func RequestDevice(name string) error {
	if !hotplugName.MatchString(name) {
		return fmt.Errorf("vmtest: device name %q: want letters, digits, '_', '.', '-'", name)
	}
	_, err := io.WriteString(os.Stdout, "\n"+HotplugMarker+name+"\n")
	return err
}

var hotplugName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// hotplugger carries out the guest's requests of one Run.
type hotplugger struct {
	ctx     context.Context
	socket  string
	devices map[string]map[string]any

	mu   sync.Mutex // serialises the requests
	mon  *Monitor
	n    int // devices added, for their ids
	errs []error
	wg   sync.WaitGroup
}

// line looks at one console line and, if it is a request, adds the
// device in the background (the console must not stall).
func (h *hotplugger) line(s string) {
	m := hotplugLine.FindStringSubmatch(s)
	if m == nil {
		return
	}
	h.wg.Go(func() { h.add(m[1]) })
}

// add adds the device name through the monitor, connecting at the
// first request.
func (h *hotplugger) add(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	err := func() error {
		spec, ok := h.devices[name]
		if !ok {
			return fmt.Errorf("no device %q in Machine.Hotplug", name)
		}
		if h.mon == nil {
			mon, err := DialMonitor(h.ctx, h.socket)
			if err != nil {
				return err
			}
			h.mon = mon
		}
		args := map[string]any{"id": "hotplug" + strconv.Itoa(h.n)}
		for k, v := range spec {
			args[k] = v
		}
		h.n++
		return h.mon.Execute("device_add", args)
	}()
	if err != nil {
		h.errs = append(h.errs, fmt.Errorf("%w: %s: %w", ErrHotplug, name, err))
	}
}

// close waits for the requests and returns their failures.
func (h *hotplugger) close() error {
	h.wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mon != nil {
		h.mon.Close()
	}
	return errors.Join(h.errs...)
}
