//go:build vmguest

package guest

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestConsumerPrograms runs the consumer programs' guest tests
// (internal/consumer, guest_test.go): a Kata-like, a KMM-like and a
// hook-like step written against the public API in a module of their
// own, built with the oldest supported Go and the race detector, with
// eight jobs and a logging Show, on this kernel. The hook loads the NLS
// modules and the ip_vs schedulers at once (over 20 modules sharing one
// dependency chain); the KMM step loads macvtap from the second tree,
// whose format the kernel does not decompress.
func TestConsumerPrograms(t *testing.T) {
	freshKernel(t)
	names := append(independentNLS(t), "ip_vs_wrr", "ip_vs_rr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_sh", "ip_vs_dh", "ip_vs_sed", "ip_vs_nq")
	var out bytes.Buffer
	cmd := exec.Command("/bin/consumer.test", "-test.v", "-test.run=^TestGuest")
	cmd.Env = toolEnv(t, "GOKMOD_CONSUMER_GUEST=1", "GOKMOD_CONSUMER_MODULES="+strings.Join(names, " "), "GOKMOD_CONSUMER_IMAGE_TREE="+altRoot)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("consumer.test:\n%s", out.String())
	if err != nil {
		t.Fatalf("the consumer programs' guest tests: %v", err)
	}
	// Each of the three ran and passed; a test binary that matched
	// nothing would pass too.
	for _, name := range []string{"TestGuestKataModules", "TestGuestHookModulesEightJobs", "TestGuestKMMWorkerStep"} {
		if !strings.Contains(out.String(), "--- PASS: "+name+" ") {
			t.Errorf("%s did not pass", name)
		}
	}
	if strings.Contains(out.String(), "WARNING: DATA RACE") {
		t.Error("the race detector reported a race")
	}
}
