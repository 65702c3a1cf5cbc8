package vmtest

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
)

// guestEnv is set in the guest's environment by GuestMain; InGuest checks
// it, so children of the test binary see it too.
const guestEnv = "GOKMOD_VM_GUEST"

// GuestMain is the TestMain of a test binary that a VM runs as /init. As
// PID 1 it mounts proc (/proc), sysfs (/sys), devtmpfs (/dev) and tmpfs
// (/tmp, /run); sets PATH, HOME, TMPDIR, InGuest's marker and the entries
// of GuestEnvFile; puts the arguments of GuestArgsFile before those the
// kernel passed (the words after "--" on its command line); runs the
// tests; prints ExitMarker with m.Run's status on the console and powers
// the machine off. Outside a VM (not PID 1) it only runs the tests and
// exits with their status.
func GuestMain(m *testing.M) {
	if os.Getpid() != 1 {
		os.Exit(m.Run())
	}
	code := 1
	if err := setupGuest(); err != nil {
		fmt.Fprintf(os.Stderr, "vmtest: guest setup: %v\n", err)
	} else {
		code = m.Run()
	}
	fmt.Printf("\n%s%d\n", ExitMarker, code)
	powerOff()
	// powerOff returns only if the kernel refused; PID 1 exiting makes
	// the kernel panic, and panic=-1 with qemu's -no-reboot ends the VM.
	os.Exit(code)
}

// InGuest reports whether the process runs inside a VM started by this
// package: GuestMain's process or one of its children.
func InGuest() bool { return os.Getenv(guestEnv) == "1" }

// RequireGuest skips the test unless it runs inside the VM (see InGuest),
// so that guest tests built with -tags vmguest do nothing on a host.
func RequireGuest(tb testing.TB) {
	tb.Helper()
	if !InGuest() {
		tb.Skip("skipping: runs only as /init inside the VM (internal/vmtest TestGuest boots it)")
	}
}

// setupGuest prepares PID 1's file systems, environment and arguments.
func setupGuest() error {
	if err := mountGuest(); err != nil {
		return err
	}
	for _, kv := range []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "TMPDIR=/tmp", guestEnv + "=1",
	} {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	env, err := readLines(GuestEnvFile)
	if err != nil {
		return err
	}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("%s: malformed entry %q", GuestEnvFile, kv)
		}
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	args, err := readLines(GuestArgsFile)
	if err != nil {
		return err
	}
	// The file's flags go first: the kernel may pass stray words, and
	// flag parsing stops at the first word that is not a flag.
	os.Args = append(append([]string{os.Args[0]}, args...), os.Args[1:]...)
	return os.Chdir("/")
}

// readLines returns the non-empty lines of the file name; a missing file
// has none.
func readLines(name string) ([]string, error) {
	// Not an input: files of the guest image the suite built.
	f, err := os.Open(name)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, sc.Err()
}
