package vmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ExitMarker starts the console line on which the guest reports its exit
// status: "GOKMOD-VM-EXIT: 0". GuestMain prints it; an /init script must
// print it too.
const ExitMarker = "GOKMOD-VM-EXIT: "

// exitLine matches the marker line; the console may end lines with \r\n
// and kernel messages may precede the marker on its line.
var exitLine = regexp.MustCompile(`(?m)` + regexp.QuoteMeta(ExitMarker) + `(-?[0-9]+)\r?$`)

// ErrNoStatus reports a guest that stopped without printing ExitMarker:
// it crashed, hung or powered off early.
var ErrNoStatus = errors.New("the guest reported no exit status")

// tailLines is how much of the console an error shows.
const tailLines = 40

// baseCmdline is the kernel command line every Run starts with: the
// serial console, an immediate reboot (so qemu's -no-reboot exit) on a
// panic, few kernel messages, /init from the initramfs, no crypto
// self-tests at boot (they cost about a second under TCG), and expedited
// RCU grace periods (removing a module waits for some: a third of the
// time of removing the ip_vs chain under TCG).
var baseCmdline = []string{"console=ttyS0", "panic=-1", "quiet", "loglevel=3", "rdinit=/init", "cryptomgr.notests", "rcupdate.rcu_expedited=1"}

// Machine describes one boot of a kernel and initramfs under qemu's TCG
// (the host's KVM is never used).
type Machine struct {
	Kernel string // the kernel image, such as KernelPath(root, release)
	Initrd string // the initramfs, such as an Image written by Build

	// Cmdline is appended to the kernel command line "console=ttyS0
	// panic=-1 quiet loglevel=3 rdinit=/init cryptomgr.notests
	// rcupdate.rcu_expedited=1". Words after a "--" word reach /init as
	// its arguments.
	Cmdline []string

	MemoryMB int // guest memory; 0 means 1024
	CPUs     int // virtual CPUs; 0 means 2

	// Console receives the serial console as it arrives, if not nil.
	Console io.Writer

	// QEMU is the emulator binary; "" means QEMUBinary found on PATH.
	QEMU string

	// Devices are more qemu arguments, for devices the guest has
	// (ColdplugDevices); the machine has none but the serial port
	// otherwise.
	Devices []string

	// Monitor is the path of a unix socket on which qemu serves its
	// monitor in QMP (DialMonitor); "" means none, unless Hotplug is set
	// (Run then makes one).
	Monitor string

	// Hotplug names the devices the guest may ask for while it runs
	// (RequestDevice): each is the arguments of QMP's device_add
	// ("driver", "bus", properties), an "id" added unless given. Run adds
	// one whenever the console shows the request.
	Hotplug map[string]map[string]any
}

// Result is what a boot produced.
type Result struct {
	Output   string        // the whole serial console, with \n line ends
	Status   int           // the status the guest reported; -1 if none
	Duration time.Duration // from starting qemu to its exit
}

// Args returns qemu's command line arguments for m.
func (m *Machine) Args() []string {
	mem, cpus := m.MemoryMB, m.CPUs
	if mem == 0 {
		mem = 1024
	}
	if cpus == 0 {
		cpus = 2
	}
	return append([]string{
		// Multi-threaded TCG runs each virtual CPU on its own host thread.
		"-accel", "tcg,thread=multi",
		"-cpu", "max",
		"-m", strconv.Itoa(mem),
		"-smp", strconv.Itoa(cpus),
		// No default devices and no display: the serial port on standard
		// input and output is the only console (-nographic would also
		// have SeaBIOS draw on it).
		"-nodefaults", "-display", "none", "-no-reboot",
		"-serial", "stdio",
		"-kernel", m.Kernel,
		"-initrd", m.Initrd,
		"-append", strings.Join(append(append([]string(nil), baseCmdline...), m.Cmdline...), " "),
	}, slices.Concat(m.Devices, m.monitorArgs())...)
}

// monitorArgs returns the arguments of m's QMP socket, if any.
func (m *Machine) monitorArgs() []string {
	if m.Monitor == "" {
		return nil
	}
	return []string{"-qmp", "unix:" + m.Monitor + ",server=on,wait=off"}
}

// Run boots m and waits until the guest powers off or ctx ends (qemu is
// then killed). It returns the console and the status the guest printed
// after ExitMarker. A guest that printed no status yields an error
// wrapping ErrNoStatus, a device of m.Hotplug that could not be added one
// wrapping ErrHotplug; every error but a failure to start qemu comes with
// a Result and shows the console's last lines.
func Run(ctx context.Context, m Machine) (*Result, error) {
	qemu := m.QEMU
	if qemu == "" {
		var err error
		if qemu, err = FindQEMU(); err != nil {
			return nil, err
		}
	}
	var console bytes.Buffer
	out := io.Writer(&console)
	if m.Console != nil {
		out = io.MultiWriter(&console, m.Console)
	}
	var (
		hot   *hotplugger
		lines *LineWriter
	)
	if len(m.Hotplug) > 0 {
		if m.Monitor == "" {
			// A short path: a unix socket's is at most 107 bytes.
			dir, err := os.MkdirTemp("", "vmtest-qmp")
			if err != nil {
				return nil, err
			}
			defer os.RemoveAll(dir)
			m.Monitor = filepath.Join(dir, "qmp")
		}
		hot = &hotplugger{ctx: ctx, socket: m.Monitor, devices: m.Hotplug}
		lines = NewLineWriter(hot.line)
		out = io.MultiWriter(out, lines)
	}
	w := &syncWriter{w: out}
	cmd := exec.CommandContext(ctx, qemu, m.Args()...)
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	runErr := cmd.Run()
	res := &Result{Duration: time.Since(start), Status: -1}
	w.mu.Lock()
	res.Output = strings.ReplaceAll(console.String(), "\r\n", "\n")
	w.mu.Unlock()
	if ms := exitLine.FindAllStringSubmatch(res.Output, -1); len(ms) > 0 {
		res.Status, _ = strconv.Atoi(ms[len(ms)-1][1])
	}
	var hotErr error
	if hot != nil {
		lines.Flush() // a request on the console's last line
		hotErr = hot.close()
	}
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("vmtest: qemu stopped after %v: %w; console tail:\n%s",
			res.Duration.Round(time.Millisecond), ctx.Err(), Tail(res.Output, tailLines))
	case runErr != nil:
		return res, fmt.Errorf("vmtest: qemu: %w; console tail:\n%s", runErr, Tail(res.Output, tailLines))
	case res.Status < 0:
		return res, fmt.Errorf("vmtest: %w; console tail:\n%s", ErrNoStatus, Tail(res.Output, tailLines))
	case hotErr != nil:
		return res, fmt.Errorf("vmtest: %w; console tail:\n%s", hotErr, Tail(res.Output, tailLines))
	}
	return res, nil
}

// Tail returns the last n lines of the console output s, without carriage
// returns.
func Tail(s string, n int) string {
	s = strings.TrimRight(strings.ReplaceAll(s, "\r", ""), "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// syncWriter serialises qemu's standard output and error.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
