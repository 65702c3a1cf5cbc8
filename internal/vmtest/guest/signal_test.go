//go:build vmguest

package guest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGTERM and SIGINT stop gokmod modprobe -a after the module in flight,
// on a real kernel: the modules before it and it are live, none after it
// is loaded, and the process dies by the signal as kmod's modprobe does.

// independentNLS returns the NLS modules of the running kernel's tree that
// depend on nothing, in modules.dep's order: a list whose loads are one
// insertion each.
func independentNLS(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, line := range strings.Split(readFile(t, moduleDir(t)+"/modules.dep"), "\n") {
		path, deps, ok := strings.Cut(line, ":")
		if !ok || !strings.Contains(path, "/fs/nls/") || strings.TrimSpace(deps) != "" {
			continue
		}
		names = append(names, strings.ReplaceAll(baseName(path), "-", "_"))
	}
	if len(names) < 8 {
		t.Fatalf("only %d independent NLS modules: %v", len(names), names)
	}
	return names
}

// startModprobe starts /bin/gokmod modprobe with args, its output to files
// (an install command's leftover process cannot hold a pipe open).
func startModprobe(t *testing.T, args ...string) (cmd *exec.Cmd, stderr string) {
	t.Helper()
	dir := t.TempDir()
	stderr = filepath.Join(dir, "stderr")
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	errf, err := os.Create(stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	cmd = exec.Command("/bin/gokmod", append([]string{"modprobe"}, args...)...)
	cmd.Env = toolEnv(t)
	cmd.Stdout, cmd.Stderr = out, errf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stderr
}

// waitFor polls until path exists, failing the test after a minute.
func waitFor(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !exists(t, path); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
	}
}

// endOf waits for cmd, failing the test if it has not ended within 20 s
// (the install command sleeps 30 s: a modprobe that missed the signal
// waits for it), and returns how it ended.
func endOf(t *testing.T, cmd *exec.Cmd) syscall.WaitStatus {
	t.Helper()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("gokmod modprobe still runs 20 s after the signal")
	}
	return cmd.ProcessState.Sys().(syscall.WaitStatus)
}

// loadedPrefix checks that the modules of names in the kernel are a
// prefix of names, each live, and returns its length.
func loadedPrefix(t *testing.T, names []string) int {
	t.Helper()
	n := 0
	for n < len(names) && exists(t, "/sys/module/"+names[n]) {
		if !live(t, names[n]) {
			t.Errorf("%s is in the kernel but not live", names[n])
		}
		n++
	}
	for _, m := range names[n:] {
		if exists(t, "/sys/module/"+m) {
			t.Errorf("%s loaded, though %s before it is not: the load went on past the signal", m, names[n])
		}
	}
	return n
}

// TestSignalModprobeInstallInFlight: the fourth of eight modules has an
// install command that loads it, touches a marker and sleeps; SIGTERM at
// the marker ends modprobe with the first four live and the rest not
// loaded, by the signal, and the install command in flight was sent
// SIGTERM (its trap ran) rather than left sleeping.
func TestSignalModprobeInstallInFlight(t *testing.T) {
	freshKernel(t)
	names := independentNLS(t)[:8]
	mid := names[3]
	dir := t.TempDir()
	mark, stopped := filepath.Join(dir, "installed"), filepath.Join(dir, "stopped")
	conf := filepath.Join(dir, "signal.conf")
	cmdline := fmt.Sprintf("install %[1]s trap 'kill $!; touch %[3]s; exit 7' TERM; /sbin/modprobe --ignore-install %[1]s && { sleep 30 & touch %[2]s; wait; }\n", mid, mark, stopped)
	if err := os.WriteFile(conf, []byte(cmdline), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, stderr := startModprobe(t, append([]string{"-C", conf, "-a"}, names...)...)
	waitFor(t, mark)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ws := endOf(t, cmd)
	if !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("gokmod modprobe ended with signalled %v (%v), exit %d; want death by SIGTERM", ws.Signaled(), ws.Signal(), ws.ExitStatus())
	}
	if !exists(t, stopped) {
		t.Error("the install command in flight was not sent SIGTERM")
	}
	if n := loadedPrefix(t, names); n != 4 {
		t.Errorf("%d of %v loaded, want the first 4 (through %s, whose install command was in flight)", n, names, mid)
	}
	if msg := readFile(t, stderr); strings.Contains(msg, "could not insert") {
		t.Errorf("modprobe reported the stopped load:\n%s", msg)
	}
}

// TestSignalModprobeInsertsInFlight: SIGINT during a modprobe -a of every
// independent NLS module, sent once a few are in: what is loaded is a
// prefix of the list, each module of it live (the one in flight went in
// whole), and modprobe died by the signal (or, had it finished first,
// loaded them all and exited 0).
func TestSignalModprobeInsertsInFlight(t *testing.T) {
	freshKernel(t)
	names := independentNLS(t)
	cmd, _ := startModprobe(t, append([]string{"-a"}, names...)...)
	waitFor(t, "/sys/module/"+names[2])
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	ws := endOf(t, cmd)
	n := loadedPrefix(t, names)
	t.Logf("SIGINT after %s: %d of %d loaded; signalled %v (%v), exit %d", names[2], n, len(names), ws.Signaled(), ws.Signal(), ws.ExitStatus())
	switch {
	case n < 3:
		t.Errorf("%d loaded, but %s was in before the signal", n, names[2])
	case n < len(names) && (!ws.Signaled() || ws.Signal() != syscall.SIGINT):
		t.Errorf("stopped after %d modules with %v (exit %d), want death by SIGINT", n, ws, ws.ExitStatus())
	case n == len(names) && !ws.Signaled() && ws.ExitStatus() != 0:
		t.Errorf("finished with exit %d", ws.ExitStatus())
	}
}
