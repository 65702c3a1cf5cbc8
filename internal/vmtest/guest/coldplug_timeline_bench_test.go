//go:build vmguest

package guest

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/modprobe/internal/kernel"
	"github.com/gokmod/modprobe/internal/vmtest"
)

// BenchmarkColdplugTimeline shows where a coldplug's time goes: for
// systemd-udevd, gokmod coldplug and a clairvoyant floor (the modules a
// first gokmod coldplug left, each inserted by finit_module as soon as
// the modules its modules.dep line names are live, all at once, nothing
// resolved and nothing waited for), it logs when each module appeared
// in /proc/modules and went live (polled every 2 ms) and when the
// kernel announced each device with a MODALIAS, SCSI device or disk
// (its uevent), in ms from the contender's start; and reports each
// one's time to the whole set (NAME-ms/op) and to the USB disk's SCSI
// device (NAME-scsi-ms/op), the end of the chain a loader that waits
// for the devices cannot shorten. It measures; the ratio the goal
// names is BenchmarkColdplug's.
func BenchmarkColdplugTimeline(b *testing.B) {
	vmtest.RequireGuest(b)
	distro := os.Getenv("GOKMOD_VM_DISTRIBUTION")
	b.Run("distro="+distro, func(b *testing.B) {
		b.Run("kernel="+release(b), func(b *testing.B) {
			target := coldplugTarget(b)
			plan := floorPlan(b, target)
			cs := []contender{
				{name: "udev", bin: "/bin/udev-coldplug"},
				{name: "gokmod", bin: "/bin/gokmod", args: []string{"coldplug", "-v"}},
				{name: "floor"},
			}
			if _, err := os.Stat("/bin/gokmod-b"); err == nil {
				cs = append(cs, contender{name: "gokmod-b", bin: "/bin/gokmod-b", args: []string{"coldplug", "-v"}})
			}
			if jobs := os.Getenv("GOKMOD_VM_COLDPLUG_JOBS"); jobs != "" {
				for _, n := range strings.Split(jobs, ",") {
					cs = append(cs, contender{name: "gokmod-jobs" + n, bin: "/bin/gokmod", args: []string{"coldplug", "-v"}, env: []string{"GOKMOD_JOBS=" + n}})
				}
			}
			total := make([]time.Duration, len(cs))
			scsi := make([]time.Duration, len(cs))
			for i := 0; i < b.N; i++ {
				for j, c := range cs {
					took, disk := timeline(b, c, target, plan)
					total[j] += took
					scsi[j] += disk
				}
			}
			for j, c := range cs {
				b.ReportMetric(float64(total[j].Milliseconds())/float64(b.N), c.name+"-ms/op")
				b.ReportMetric(float64(scsi[j].Milliseconds())/float64(b.N), c.name+"-scsi-ms/op")
			}
			b.ReportMetric(float64(len(target)), "modules")
		})
	})
}

// floorModule is a module of the floor's plan: its file and the modules
// that must be live before it.
type floorModule struct {
	name, path string
	deps       []string
}

// floorPlan returns each of names with its file and dependencies, as
// modules.dep has them.
func floorPlan(b *testing.B, names []string) []floorModule {
	b.Helper()
	dir := moduleDir(b)
	byName := map[string]floorModule{}
	for line := range strings.Lines(readFile(b, dir+"/modules.dep")) {
		p, deps, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		m := floorModule{name: strings.ReplaceAll(baseName(p), "-", "_"), path: dir + "/" + p}
		for _, d := range strings.Fields(deps) {
			m.deps = append(m.deps, strings.ReplaceAll(baseName(d), "-", "_"))
		}
		byName[m.name] = m
	}
	var plan []floorModule
	for _, n := range names {
		m, ok := byName[n]
		if !ok {
			b.Fatalf("%s is not in %s/modules.dep", n, dir)
		}
		plan = append(plan, m)
	}
	return plan
}

// insertFloor inserts the modules of plan, each in its own goroutine as
// soon as its dependencies are in, and returns the errors other than
// EEXIST (a module the kernel itself requested meanwhile).
func insertFloor(plan []floorModule) error {
	done := map[string]chan struct{}{}
	for _, m := range plan {
		done[m.name] = make(chan struct{})
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, m := range plan {
		wg.Go(func() {
			defer close(done[m.name])
			for _, d := range m.deps {
				if ch, ok := done[d]; ok {
					<-ch
				}
			}
			f, err := os.Open(m.path)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			defer f.Close()
			flags := 0
			if !strings.HasSuffix(m.path, ".ko") {
				flags = kernel.InitCompressedFile
			}
			if err := kernel.FinitModule(f, "", flags); err != nil && !errors.Is(err, syscall.EEXIST) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", m.name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// timelineEvent is one line of a timeline.
type timelineEvent struct {
	at   time.Duration
	what string
}

// timeline runs contender c (the floor when c.bin is "") from an empty
// kernel, logs its timeline and returns its time to the target set and
// to the first SCSI device's uevent (0 if none came).
func timeline(b *testing.B, c contender, target []string, plan []floorModule) (time.Duration, time.Duration) {
	b.Helper()
	unloadAll(b)
	events, err := kernel.OpenUevents()
	if err != nil {
		b.Fatal(err)
	}
	var (
		mu   sync.Mutex
		log  []timelineEvent
		scsi time.Duration
	)
	start := time.Now()
	note := func(what string) {
		at := time.Since(start)
		mu.Lock()
		log = append(log, timelineEvent{at, what})
		mu.Unlock()
	}
	var readers sync.WaitGroup
	readers.Go(func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := events.Read(buf)
			if err != nil {
				return
			}
			env := map[string]string{}
			fields := bytes.Split(buf[:n], []byte{0})
			for _, f := range fields[1:] {
				if k, v, ok := strings.Cut(string(f), "="); ok {
					env[k] = v
				}
			}
			if env["ACTION"] != "add" {
				continue
			}
			sub := env["SUBSYSTEM"]
			if env["MODALIAS"] == "" && sub != "scsi" && sub != "block" && sub != "scsi_generic" {
				continue
			}
			if sub == "scsi" && env["DEVTYPE"] == "scsi_device" {
				mu.Lock()
				if scsi == 0 {
					scsi = time.Since(start)
				}
				mu.Unlock()
			}
			note(fmt.Sprintf("uevent %s %s %s", sub, env["DEVPATH"], env["MODALIAS"]))
		}
	})
	stop := make(chan struct{})
	want := strings.Join(target, ",")
	reached := make(chan time.Duration, 1)
	readers.Go(func() {
		state := map[string]string{}
		for {
			mods, err := kernel.ReadProcModules("/proc")
			if err == nil {
				var names []string
				for _, m := range mods {
					if state[m.Name] != m.State {
						state[m.Name] = m.State
						note(strings.ToLower(m.State) + " " + m.Name)
					}
					names = append(names, m.Name)
				}
				slices.Sort(names)
				if strings.Join(names, ",") == want {
					select {
					case reached <- time.Since(start):
					default:
					}
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	var out bytes.Buffer
	var wait func() error
	start = time.Now()
	if c.bin == "" {
		errc := make(chan error, 1)
		go func() { errc <- insertFloor(plan) }()
		wait = func() error { return <-errc }
	} else {
		cmd := exec.Command(c.bin, c.args...)
		cmd.Env = toolEnv(b, c.env...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		wait = cmd.Wait
	}
	var took time.Duration
	select {
	case took = <-reached:
	case <-time.After(2 * time.Minute):
		b.Fatalf("%s: after 2 minutes live %v, want %s\n%s", c.name, liveModules(b), want, out.String())
	}
	werr := wait()
	ended := time.Since(start)
	close(stop)
	events.SetReadDeadline(time.Now())
	readers.Wait()
	events.Close()
	if werr != nil {
		b.Fatalf("%s: %v\n%s", c.name, werr, out.String())
	}
	slices.SortStableFunc(log, func(x, y timelineEvent) int { return cmp.Compare(x.at, y.at) })
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s timeline: all %d modules in %v, SCSI device at %v, ended at %v\n", benchName(b), c.name, len(target), took.Round(time.Millisecond), scsi.Round(time.Millisecond), ended.Round(time.Millisecond))
	for _, e := range log {
		fmt.Fprintf(&sb, "%6d ms %s\n", e.at.Milliseconds(), e.what)
	}
	if strings.HasPrefix(c.name, "gokmod") {
		sb.WriteString(out.String())
	}
	b.Log(sb.String())
	return took, scsi
}
