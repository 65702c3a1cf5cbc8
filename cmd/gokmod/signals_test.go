package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/gokmod/modprobe/internal/cli"

	"github.com/gokmod/modprobe/internal/vmtest"
)

// These tests start this test binary as the gokmod command (TestMain,
// GOKMOD_TEST_AS_TOOL=1), wait until the tool is at a point where it
// waits (an install command running, a read of standard input or of a
// terminal, a registry that does not answer), send it SIGTERM or SIGINT,
// and check how the process ends: kmod's tools by the signal, gokmod's own
// tools with status 1 and their error, and nothing after the step in
// flight. The time bounds detect a hang (the install commands sleep 30 s,
// a tool that missed the signal would wait for them); they are not speed
// tests.

// hangBound is how long a stopped tool may take to end before the test
// calls it hung: under cli.StopGrace, after which a tool that missed the
// signal would be ended by it anyway.
const hangBound = 8 * time.Second

// toolProc is a gokmod process a test started.
type toolProc struct {
	cmd            *exec.Cmd
	stdout, stderr string // the files its output goes to
	done           chan error
	sent           time.Time // when the first signal went
}

// startTool starts gokmod running args, with stdin (nil for /dev/null)
// and, if set, stdout; its output goes to files otherwise, so that a
// process the tool leaves behind cannot keep the test waiting on a pipe.
// wrap, if set, is a shell command run first, which then execs gokmod.
func startTool(t *testing.T, stdin, stdout *os.File, wrap string, args ...string) *toolProc {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return startExe(t, self, stdin, stdout, wrap, args...)
}

// startKMM starts gokmod kmm with args as users run it: a built gokmod
// that hands over to the worker binary built beside it.
func startKMM(t *testing.T, args ...string) *toolProc {
	t.Helper()
	dir := t.TempDir()
	if err := vmtest.BuildTools(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	return startExe(t, filepath.Join(dir, "gokmod"), nil, nil, "", append([]string{"kmm"}, args...)...)
}

// startExe is startTool with the executable self.
func startExe(t *testing.T, self string, stdin, stdout *os.File, wrap string, args ...string) *toolProc {
	t.Helper()
	dir := t.TempDir()
	p := &toolProc{stdout: filepath.Join(dir, "stdout"), stderr: filepath.Join(dir, "stderr"), done: make(chan error, 1)}
	if wrap != "" {
		p.cmd = exec.Command("/bin/sh", append([]string{"-c", wrap + `; exec "$0" "$@"`, self}, args...)...)
	} else {
		p.cmd = exec.Command(self, args...)
	}
	p.cmd.Env = []string{"GOKMOD_TEST_AS_TOOL=1", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	p.cmd.Stdin = stdin
	errf, err := os.Create(p.stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	p.cmd.Stderr = errf
	if stdout == nil {
		outf, err := os.Create(p.stdout)
		if err != nil {
			t.Fatal(err)
		}
		defer outf.Close()
		stdout = outf
	}
	p.cmd.Stdout = stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.running() {
			_ = p.cmd.Process.Kill()
		}
		err := <-p.done
		p.done <- err
	})
	return p
}

// signal sends sig to the process.
func (p *toolProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if p.sent.IsZero() {
		p.sent = time.Now()
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("sending %v: %v", sig, err)
	}
}

// running reports whether the process has not ended.
func (p *toolProc) running() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return false
	default:
		return true
	}
}

// end waits for the process to end, within bound of the first signal,
// and returns how it ended and what it printed.
func (p *toolProc) end(t *testing.T, bound time.Duration) (ws syscall.WaitStatus, stdout, stderr string) {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("waiting for gokmod: %v", err)
		}
	case <-time.After(bound - time.Since(p.sent)):
		t.Fatalf("gokmod %q still runs %v after the signal: hung", p.cmd.Args[1:], time.Since(p.sent).Round(time.Millisecond))
	}
	ws = p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	t.Logf("ended %v after the signal: %s", time.Since(p.sent).Round(time.Millisecond), describeStatus(ws))
	out, _ := os.ReadFile(p.stdout)
	errb, _ := os.ReadFile(p.stderr)
	return ws, string(out), string(errb)
}

// waitUntil polls cond until it holds, failing the test after 20 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// killedBy checks that the process ended by sig, as kmod's would.
func killedBy(t *testing.T, ws syscall.WaitStatus, sig syscall.Signal) {
	t.Helper()
	if !ws.Signaled() || ws.Signal() != sig {
		t.Errorf("gokmod ended with %s, want death by %v", describeStatus(ws), sig)
	}
}

// exitedWith checks that the process exited with code.
func exitedWith(t *testing.T, ws syscall.WaitStatus, code int) {
	t.Helper()
	if !ws.Exited() || ws.ExitStatus() != code {
		t.Errorf("gokmod ended with %s, want exit status %d", describeStatus(ws), code)
	}
}

func describeStatus(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

// installTree writes an empty module tree and a configuration whose
// install commands for gk_x, gk_a and gk_p touch a marker each; gk_a's
// starts a 30 s sleep, sets a trap for SIGTERM (kill the sleep, touch
// gk_a.term, exit 7), then touches its marker and waits: once the marker
// is there, the trap is complete. It
// returns the modprobe arguments before the names, and the marker
// directory.
func installTree(t *testing.T) (args []string, marks string) {
	t.Helper()
	root := t.TempDir()
	marks = filepath.Join(root, "marks")
	for _, d := range []string{filepath.Join(root, "lib/modules/1.0"), marks} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(root, "lib/modules/1.0/modules.dep"), "")
	conf := filepath.Join(root, "install.conf")
	writeFile(t, conf, fmt.Sprintf(`install gk_x touch %[1]s/gk_x
install gk_a sleep 30 & trap 'kill $!; touch %[1]s/gk_a.term; exit 7' TERM; touch %[1]s/gk_a; wait
install gk_p touch %[1]s/gk_p
`, marks))
	return []string{"modprobe", "-d", root, "-S", "1.0", "-C", conf}, marks
}

// TestSignalModprobeStopsAfterInFlight: modprobe -a x a p, signalled while
// a's install command runs, stops that command (SIGTERM: its trap runs),
// never runs p's, and dies by the signal, printing no error of its own.
func TestSignalModprobeStopsAfterInFlight(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(cli.SignalName(sig), func(t *testing.T) {
			args, marks := installTree(t)
			p := startTool(t, nil, nil, "", append(args, "-a", "gk_x", "gk_a", "gk_p")...)
			waitUntil(t, "gk_a's install command", func() bool { return exists(filepath.Join(marks, "gk_a")) })
			p.signal(t, sig)
			ws, stdout, stderr := p.end(t, hangBound)
			killedBy(t, ws, sig)
			for _, m := range []string{"gk_x", "gk_a", "gk_a.term"} {
				if !exists(filepath.Join(marks, m)) {
					t.Errorf("%s missing: the step in flight, or the one before it, did not happen", m)
				}
			}
			if exists(filepath.Join(marks, "gk_p")) {
				t.Error("gk_p's install command ran after the signal")
			}
			// Nothing is reported about the step the signal stopped, as
			// kmod's modprobe, killed by it, reports nothing.
			if stdout != "" || stderr != "" {
				t.Errorf("stdout %q, stderr %q", stdout, stderr)
			}
		})
	}
}

// TestSignalIgnoredStaysIgnored: a SIGINT ignored by the parent (a
// shell's background job, nohup) is ignored by modprobe as by kmod's;
// SIGTERM still stops it.
func TestSignalIgnoredStaysIgnored(t *testing.T) {
	args, marks := installTree(t)
	p := startTool(t, nil, nil, `trap "" INT`, append(args, "-a", "gk_x", "gk_a", "gk_p")...)
	waitUntil(t, "gk_a's install command", func() bool { return exists(filepath.Join(marks, "gk_a")) })
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// Had the SIGINT stopped modprobe, the install command would have
	// had its SIGTERM (gk_a.term) long before this.
	time.Sleep(500 * time.Millisecond)
	if exists(filepath.Join(marks, "gk_a.term")) || !p.running() {
		t.Fatal("an ignored SIGINT stopped modprobe")
	}
	p.signal(t, syscall.SIGTERM)
	ws, _, _ := p.end(t, hangBound)
	killedBy(t, ws, syscall.SIGTERM)
	if exists(filepath.Join(marks, "gk_p")) {
		t.Error("gk_p's install command ran after the signal")
	}
}

// pipeUnread returns the number of bytes in the pipe of f, either end.
func pipeUnread(t *testing.T, f *os.File) int {
	var n int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TIOCINQ, uintptr(unsafe.Pointer(&n))); errno != 0 {
		t.Fatalf("FIONREAD: %v", errno)
	}
	return int(n)
}

// TestSignalOCIHookReadingState: the hook waits for its state on a pipe
// nobody closes; a signal ends the read at once, and the hook fails with
// its error.
func TestSignalOCIHookReadingState(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(cli.SignalName(sig), func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			p := startTool(t, r, nil, "", "oci-hook")
			r.Close()
			// The hook reads what is there and waits for more: it is in
			// its read once the pipe is empty.
			if _, err := w.WriteString(`{"bundle":`); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "the hook to read its state", func() bool { return pipeUnread(t, w) == 0 })
			p.signal(t, sig)
			ws, stdout, stderr := p.end(t, hangBound)
			exitedWith(t, ws, 1)
			want := "[module-hook] state: reading standard input: context canceled (stopped by " + cli.SignalName(sig) + ")\n"
			if stdout != "" || stderr != want {
				t.Errorf("stdout %q, stderr %q; want stderr %q", stdout, stderr, want)
			}
		})
	}
}

// openPTY returns the master of a new pseudo-terminal and its slave's
// path: a device whose reads wait until the master writes.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	var unlock int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); errno != 0 {
		t.Fatalf("unlockpt: %v", errno)
	}
	var n uint32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); errno != 0 {
		t.Fatalf("ptsname: %v", errno)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

// hasOpen reports whether process pid has path open.
func hasOpen(pid int, path string) bool {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && target == path {
			return true
		}
	}
	return false
}

// TestSignalConfigOnWaitingDevice: gokmod's own tools reading their
// configuration from a device that waits (a terminal nobody types on)
// end at the signal with their error and status 1.
func TestSignalConfigOnWaitingDevice(t *testing.T) {
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
		args func(tty string) []string
		want string
	}{
		{"kata --config", syscall.SIGTERM, func(tty string) []string { return []string{"kata", "-n", "--config", tty} },
			"kata: stopped by SIGTERM\n"},
		{"kmm load", syscall.SIGINT, func(tty string) []string { return []string{"kmm", "load", tty} },
			"kmm: stopped by SIGINT\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, tty := openPTY(t)
			var p *toolProc
			if args := tc.args(tty); args[0] == "kmm" {
				p = startKMM(t, args[1:]...)
			} else {
				p = startTool(t, nil, nil, "", args...)
			}
			waitUntil(t, "the tool to open "+tty, func() bool { return hasOpen(p.cmd.Process.Pid, tty) })
			p.signal(t, tc.sig)
			ws, stdout, stderr := p.end(t, hangBound)
			exitedWith(t, ws, 1)
			if stdout != "" || stderr != tc.want {
				t.Errorf("stdout %q, stderr %q; want stderr %q", stdout, stderr, tc.want)
			}
		})
	}
}

// TestSignalKMMPullFromSilentRegistry: kmm pull from a registry that
// accepts connections and never answers ends at the signal, with nothing
// written.
func TestSignalKMMPullFromSilentRegistry(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 64)
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	defer func() {
		ln.Close()
		for c := range accepted {
			c.Close()
		}
	}()
	dir := filepath.Join(t.TempDir(), "pulled")
	p := startKMM(t, "pull", "--image", ln.Addr().String()+"/kmod:1", "--insecure", "--kernel", "1.0", "--dir", dir)
	select {
	case c := <-accepted:
		defer c.Close()
	case <-time.After(20 * time.Second):
		t.Fatal("kmm pull never connected")
	}
	p.signal(t, syscall.SIGTERM)
	ws, _, stderr := p.end(t, hangBound)
	exitedWith(t, ws, 1)
	if !strings.HasPrefix(stderr, "kmm: ") || !strings.Contains(stderr, "stopped by SIGTERM") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q", stderr)
	}
	if entries, err := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("kmm pull wrote %v (%v)", entries, err)
	}
}

// blockedStdout starts gokmod modprobe -c with a configuration larger
// than a pipe holds and stdout a pipe nobody reads, and waits until the
// pipe is full: modprobe then waits in write(2), where no context
// reaches.
func blockedStdout(t *testing.T) *toolProc {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "big.conf")
	var b strings.Builder
	for i := range 8000 {
		fmt.Fprintf(&b, "alias gokmod_alias_%05d gokmod_module_%05d\n", i, i)
	}
	writeFile(t, conf, b.String())
	return stdoutFilled(t, "modprobe", "-C", conf, "-c")
}

// stdoutFilled starts gokmod running args, with stdout a pipe nobody
// reads, and waits until the pipe is full.
func stdoutFilled(t *testing.T, args ...string) *toolProc {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	p := startTool(t, nil, w, "", args...)
	w.Close()
	waitUntil(t, "gokmod to fill its stdout", func() bool { return pipeUnread(t, r) >= 64<<10 })
	return p
}

// TestSignalBlockedWriteEndsAfterGrace: a modprobe that cannot reach a
// safe point (stdout full) is ended by the signal cli.StopGrace after it.
func TestSignalBlockedWriteEndsAfterGrace(t *testing.T) {
	p := blockedStdout(t)
	p.signal(t, syscall.SIGTERM)
	ws, _, _ := p.end(t, cli.StopGrace+hangBound)
	killedBy(t, ws, syscall.SIGTERM)
}

// TestSignalSecondEndsAtOnce: a second signal ends the process without
// waiting for the first to be honoured.
func TestSignalSecondEndsAtOnce(t *testing.T) {
	p := blockedStdout(t)
	p.signal(t, syscall.SIGTERM)
	time.Sleep(100 * time.Millisecond)
	p.signal(t, syscall.SIGINT)
	ws, _, _ := p.end(t, hangBound)
	killedBy(t, ws, syscall.SIGINT)
}

// TestSignalBeforeFirstStepEndsAtOnce: modprobe -D -a prints what it
// would do and does nothing a signal must not cut short, so it does not
// watch the signals (cli's signals.go): blocked on a full stdout, it dies
// by the signal at once, as kmod's modprobe does, instead of after
// cli.StopGrace as a modprobe that handled the signal would (see
// TestSignalBlockedWriteEndsAfterGrace).
func TestSignalBeforeFirstStepEndsAtOnce(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(cli.SignalName(sig), func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "lib/modules/1.0"), 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(root, "lib/modules/1.0/modules.dep"), "")
			var conf strings.Builder
			args := []string{"modprobe", "-d", root, "-S", "1.0", "-C", filepath.Join(root, "install.conf"), "-D", "-a"}
			for i := range 400 { // more than a pipe holds: 400 lines of 220 bytes
				fmt.Fprintf(&conf, "install gk_%04d echo %s\n", i, strings.Repeat("x", 200))
				args = append(args, fmt.Sprintf("gk_%04d", i))
			}
			writeFile(t, filepath.Join(root, "install.conf"), conf.String())
			p := stdoutFilled(t, args...)
			p.signal(t, sig)
			ws, _, stderr := p.end(t, cli.StopGrace/2)
			killedBy(t, ws, sig)
			if stderr != "" {
				t.Errorf("stderr %q", stderr)
			}
		})
	}
}
