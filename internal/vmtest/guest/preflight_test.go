//go:build vmguest

package guest

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/modprobe/internal/kernel"
	"github.com/gokmod/modprobe/internal/vmtest"
)

// preflightTimeout bounds one module's load: a module whose init probes
// for hardware the guest lacks may take long or never return.
const preflightTimeout = 60 * time.Second

// preflightOutcome is what the kernel did with one module of the plan.
type preflightOutcome struct {
	loads  bool
	reason string // a vmtest Reason constant when refused
	hung   bool   // a load did not return within preflightTimeout
}

// TestPreflightVerdicts loads each module of the plan the host made
// (vm_test.go's preflightFiles: the other Debian release's modules, and
// this distribution's own changed to fail one check each) after the
// modules it needs, in insmod order, reads why the kernel refused it
// from its log, removes what loaded, and compares with preflight's
// verdict on the host: loads or refused, and the first reason. Every
// module must agree; one whose load hangs is counted apart.
func TestPreflightVerdicts(t *testing.T) {
	freshKernel(t)
	var plan []vmtest.PreflightEntry
	if err := json.Unmarshal([]byte(readFile(t, vmtest.TestdataDir+"/preflight/plan.json")), &plan); err != nil {
		t.Fatal(err)
	}
	if len(plan) == 0 {
		t.Fatal("an empty preflight plan")
	}
	start := liveModules(t)
	agree, hung := 0, 0
	counts := map[string]int{}
	for _, e := range plan {
		got := tryLoad(t, e)
		removeAllBut(t, start)
		if got.hung {
			hung++
			t.Logf("%s: the load hung (preflight: loads %v %s)", e.Module, e.Loads, e.Reason)
			continue
		}
		key := "loads"
		if !got.loads {
			key = "refused/" + got.reason
		}
		counts[key]++
		if got.loads == e.Loads && (got.loads || got.reason == e.Reason) {
			agree++
			continue
		}
		t.Errorf("%s: the kernel: loads %v (%s); preflight: loads %v (%s)", e.Module, got.loads, got.reason, e.Loads, e.Reason)
	}
	t.Logf("preflight: %d agree of %d (%d hung); the kernel's outcomes: %v", agree, len(plan), hung, counts)
}

// tryLoad loads e's dependencies, then e's module, and says what the
// kernel did.
func tryLoad(t *testing.T, e vmtest.PreflightEntry) preflightOutcome {
	t.Helper()
	log := openKmsg(t)
	defer log.Close()
	for _, dep := range e.Deps {
		err, done := loadFile(t, dep)
		switch {
		case !done:
			return preflightOutcome{hung: true}
		case err != nil && !errors.Is(err, syscall.EEXIST):
			return preflightOutcome{reason: vmtest.ReasonDependency}
		}
	}
	err, done := loadFile(t, e.Module)
	switch {
	case !done:
		return preflightOutcome{hung: true}
	case err == nil:
		return preflightOutcome{loads: true}
	}
	// The kernel logs the refusal before the call returns.
	return preflightOutcome{reason: vmtest.RefusalReason(log.lines(t))}
}

// loadFile loads the module file with finit_module(2) (the kernel
// decompresses a .ko.xz); done is false when the call did not return
// within preflightTimeout (it is left running).
func loadFile(t *testing.T, path string) (err error, done bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	flags := 0
	if strings.HasSuffix(path, ".xz") {
		flags = kernel.InitCompressedFile
	}
	res := make(chan error, 1)
	go func() {
		defer f.Close()
		res <- kernel.FinitModule(f, "", flags)
	}()
	select {
	case err := <-res:
		return err, true
	case <-time.After(preflightTimeout):
		return nil, false
	}
}

// removeAllBut removes every module that is not in keep, holders first.
func removeAllBut(t *testing.T, keep []string) {
	t.Helper()
	for range 20 {
		var extra []string
		for _, m := range liveModules(t) {
			if !slices.Contains(keep, m) {
				extra = append(extra, m)
			}
		}
		if len(extra) == 0 {
			return
		}
		for _, m := range extra {
			_ = deleteModule(m)
		}
	}
	t.Errorf("modules left: %v", liveModules(t))
}
