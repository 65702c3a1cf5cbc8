//go:build vmguest

package guest

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// run runs name with args and returns its standard output; a non-zero
// exit fails the test with both outputs.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// readFile returns the contents of name, failing the test on error.
func readFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// exists reports whether name exists, failing the test on errors other
// than its absence.
func exists(t *testing.T, name string) bool {
	t.Helper()
	_, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// unloadAtCleanup removes module with kmod's modprobe -r when the test
// ends, if it is still loaded.
func unloadAtCleanup(t *testing.T, module string) {
	t.Cleanup(func() {
		if exists(t, "/sys/module/"+module) {
			if out, err := exec.Command("/sbin/modprobe", "-r", module).CombinedOutput(); err != nil {
				t.Errorf("cleanup: modprobe -r %s: %v\n%s", module, err, out)
			}
		}
	})
}

// guestCompat returns the GOKMOD_COMPAT setting under which gokmod follows
// the guest's kmod, read from its modprobe -V: "GOKMOD_COMPAT=kmod30" for
// Debian 12's kmod 30, "GOKMOD_COMPAT=kmod34" for kmod 34.
func guestCompat(t *testing.T) string {
	t.Helper()
	first, _, _ := strings.Cut(run(t, "/sbin/modprobe", "-V"), "\n")
	v, ok := strings.CutPrefix(first, "kmod version ")
	major, _, _ := strings.Cut(v, ".")
	switch {
	case ok && major == "30":
		return "GOKMOD_COMPAT=kmod30"
	case ok && major == "34":
		return "GOKMOD_COMPAT=kmod34"
	}
	t.Fatalf("guest's modprobe -V: %q, want kmod 30 or 34", first)
	return ""
}
