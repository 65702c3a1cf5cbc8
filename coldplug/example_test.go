package coldplug_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/coldplug"
)

// A guest without udev: the drivers of the devices present, then of every
// device added, until SIGTERM. The socket is opened before the coldplug,
// so that a device added during it is loaded by the watch.
func ExampleListen() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	l, err := modprobe.Open(modprobe.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer l.Close()
	ln, err := coldplug.Listen()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer ln.Close()
	// Debian's udev also loads sg for SCSI devices.
	opts := coldplug.Options{LoadSG: true}
	if _, err := coldplug.Run(ctx, l, opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	err = ln.Watch(ctx, l, opts, func(ev coldplug.Event) {
		for _, m := range ev.Modules {
			fmt.Printf("%s: %s %s\n", ev.Devpath, m.Module, m.Status)
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}
