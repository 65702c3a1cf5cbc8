package vmtest

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

// QEMUBinary is the emulator Run starts.
const QEMUBinary = "qemu-system-x86_64"

// FindQEMU returns the path of QEMUBinary on PATH.
func FindQEMU() (string, error) {
	p, err := exec.LookPath(QEMUBinary)
	if err != nil {
		return "", fmt.Errorf("vmtest: %w (Debian package qemu-system-x86)", err)
	}
	return p, nil
}

// RequireVM checks that the host can build and boot images: qemu, kmod's
// kmod and depmod, ldd and a static busybox. When something is missing it
// fails the test if the environment variable CI is "true" and skips it
// otherwise, so a CI machine cannot pass without booting.
func RequireVM(tb testing.TB) {
	tb.Helper()
	var missing []string
	if _, err := FindQEMU(); err != nil {
		missing = append(missing, err.Error())
	}
	if _, err := findBusybox(); err != nil {
		missing = append(missing, err.Error())
	}
	for _, tool := range []string{"kmod", "depmod", "ldd"} {
		if _, err := testmod.FindTool(tool); err != nil {
			missing = append(missing, err.Error())
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := strings.Join(missing, "; ") + " (run scripts/setup.sh)"
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI=true but the VM cannot run: %s", msg)
	}
	tb.Skipf("skipping: %s", msg)
}

// findBusybox returns the host's busybox, which must be statically linked
// (Debian package busybox-static).
func findBusybox() (string, error) {
	p, err := testmod.FindTool("busybox")
	if err != nil {
		return "", fmt.Errorf("%w (Debian package busybox-static)", err)
	}
	f, err := elf.Open(p)
	if err != nil {
		return "", fmt.Errorf("vmtest: %w", err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return "", fmt.Errorf("vmtest: %s is dynamically linked; install Debian package busybox-static", p)
		}
	}
	return p, nil
}

// busyboxList returns the applets busybox bb provides.
func busyboxList(bb string) (map[string]bool, error) {
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("vmtest: %s --list: %w", bb, err)
	}
	have := make(map[string]bool)
	for _, a := range strings.Fields(string(out)) {
		have[a] = true
	}
	return have, nil
}

// sharedLibraries returns the absolute paths of the shared libraries and
// the dynamic loader that ldd lists for the executable exe.
func sharedLibraries(ctx context.Context, exe string) ([]string, error) {
	ldd, err := testmod.FindTool("ldd")
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, ldd, exe)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("vmtest: ldd %s: %w: %s", exe, err, strings.TrimSpace(stderr.String()))
	}
	return parseLdd(string(out))
}

// parseLdd returns the library paths in ldd's output: the target of each
// "NAME => PATH (ADDRESS)" line and the loader's "PATH (ADDRESS)" line;
// the vDSO has no path. A library ldd did not find is an error.
func parseLdd(out string) ([]string, error) {
	var libs []string
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "=>" && f[2] == "not":
			return nil, fmt.Errorf("vmtest: ldd: library %s not found", f[0])
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs = append(libs, f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			libs = append(libs, f[0])
		}
	}
	if len(libs) == 0 {
		return nil, fmt.Errorf("vmtest: ldd listed no libraries in %q", out)
	}
	return libs, nil
}
