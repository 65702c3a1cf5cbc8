//go:build vmguest

package guest

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/vmtest"
)

// BenchmarkSyscalls logs where each contender's system calls go while it
// loads the stack and the independent modules once: strace -f -c's
// summary (counts, errors and time per system call, all threads). The
// counts do not depend on the emulator's speed, unlike the other
// benchmarks' times. It runs when the image carries strace
// (GOKMOD_VM_STRACE=1 on the host, with GOKMOD_VM_BENCH=Syscalls), and
// profiles once, in the benchmark's first call (b.N == 1), whatever
// -benchtime asks.
func BenchmarkSyscalls(b *testing.B) {
	vmtest.RequireGuest(b)
	if os.Getenv("GOKMOD_VM_STRACE") == "" {
		b.Skip("GOKMOD_VM_STRACE is not set: the image carries no strace")
	}
	if b.N > 1 {
		return
	}
	lists := map[string][]string{"stack": stackModules, "independent": independentModules(b)}
	for _, list := range []string{"stack", "independent"} {
		for _, c := range []contender{kmodModprobe, cliModprobe, libModprobe} {
			unloadAll(b)
			out := "/tmp/strace." + c.name
			args := append([]string{"-f", "-c", "-o", out, c.bin}, append(append([]string(nil), c.args...), lists[list]...)...)
			cmd := exec.Command("/usr/bin/strace", args...)
			cmd.Env = toolEnv(b, c.env...)
			if msg, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("strace %v: %v\n%s", args, err, msg)
			}
			summary, err := os.ReadFile(out)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%s %s, %s (%d modules):\n%s", benchName(b), list, c.name, len(liveModules(b)), strings.TrimSpace(string(summary)))
		}
	}
}
