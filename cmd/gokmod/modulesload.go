package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"syscall"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/getopt"
	"github.com/gokmod/modprobe/internal/kmodlog"
	"github.com/gokmod/modprobe/modulesload"
)

const modulesLoadUsage = `%s [OPTIONS...] [CONFIGURATION FILE...]

Loads statically configured kernel modules, as systemd-modules-load:
modules_load= on the kernel command line (rd.modules_load= too in an
initrd), then modules-load.d/*.conf in /etc, /run, /usr/local/lib and
/usr/lib (and /lib with GOKMOD_COMPAT=kmod30, as Debian 12's systemd),
in parallel (GOKMOD_JOBS, default: the number of CPUs).

  -h --help          Show this help
     --version       Show package version
`

// optVersion is --version's getopt value.
const optVersion = 1001

// runModulesLoad is gokmod modules-load: systemd-modules-load's work
// (package modulesload), its messages and exit status.
func runModulesLoad(e *env, argv0 string, args []string) int {
	m := newModprobeCmd(e, argv0)
	return m.run(func(m *modprobeCmd) int {
		p := getopt.New(argv0, args, "h", []getopt.Option{
			{Name: "help", Val: 'h'},
			{Name: "version", Val: optVersion},
		}, e.Stderr)
		for c := range p.Options() {
			switch c {
			case 'h':
				fmt.Fprintf(m.out, modulesLoadUsage, "modules-load")
				return 0
			case optVersion:
				fmt.Fprintf(m.out, "gokmod modules-load (systemd-modules-load's semantics, kmod %s's lookups)\n", kmodRelease(m.compat))
				return 0
			default:
				return 1
			}
		}
		compat, err := compatFromEnv(e)
		if err != nil {
			fmt.Fprintf(e.Stderr, "%v\n", err)
			return 1
		}
		m.compat = compat
		initrd := modulesload.InInitrd("/")
		if v, ok := e.Getenv("SYSTEMD_IN_INITRD"); ok {
			if b, err := strconv.ParseBool(v); err == nil {
				initrd = b
			}
		}
		entries, warnings, err := modulesload.Read(modulesload.Options{
			Files:    p.Operands(),
			SplitUsr: compat == modprobe.CompatKmod30,
			InInitrd: initrd,
		})
		for _, w := range warnings {
			fmt.Fprintf(e.Stderr, "%v\n", w)
		}
		if err != nil {
			fmt.Fprintf(e.Stderr, "Failed to open %v\n", err)
			return 1
		}
		// systemd logs libkmod's messages at debug level only.
		l, err := e.OpenLoader(modprobe.Options{Compat: compat, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			fmt.Fprintf(e.Stderr, "Failed to initialize kmod context: %v\n", err)
			return 1
		}
		defer l.Close()
		jobs := 0
		if v, ok := e.Getenv("GOKMOD_JOBS"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				jobs = n
			}
		}
		results, err := modulesload.Load(e.Context(), l, entries, modulesload.LoadOptions{Jobs: jobs})
		for _, r := range results {
			if msg := modulesLoadMessage(r); msg != "" {
				fmt.Fprintln(e.Stderr, msg)
			}
		}
		if err != nil {
			return 1
		}
		return 0
	})
}

// modulesLoadMessage returns systemd-modules-load's line for a result
// at its default level (info), or "".
func modulesLoadMessage(r modulesload.Result) string {
	switch r.Status {
	case modulesload.Inserted:
		return fmt.Sprintf("Inserted module '%s'", r.Module)
	case modulesload.Builtin:
		return fmt.Sprintf("Module '%s' is built in", r.Module)
	case modulesload.Blacklisted:
		return fmt.Sprintf("Module '%s' is deny-listed", r.Module)
	case modulesload.NotFound:
		if errors.Is(r.Err, modprobe.ErrNotFound) {
			return fmt.Sprintf("Failed to find module '%s'", r.Entry.Name)
		}
		return fmt.Sprintf("Failed to insert module '%s': %s", r.Module, kmodlog.Strerror(syscall.ENOENT))
	case modulesload.NoDevice:
		return fmt.Sprintf("Failed to insert module '%s': %s", r.Module, kmodlog.Strerror(syscall.ENODEV))
	case modulesload.Failed:
		if errno := modprobe.KmodErrno(r.Err); errno != 0 {
			return fmt.Sprintf("Failed to insert module '%s': %s", r.Module, kmodlog.Strerror(errno))
		}
		return fmt.Sprintf("Failed to insert module '%s': %v", r.Module, r.Err)
	}
	return ""
}
