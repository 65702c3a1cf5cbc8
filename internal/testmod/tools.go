package testmod

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// toolDirs returns the directories searched, in order, when a tool is not
// on PATH: kmod's tools live in /usr/sbin or /sbin, which ordinary users'
// PATH often lacks.
func toolDirs() []string { return []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} }

// FindTool returns the path of a kmod tool such as "depmod", "modinfo" or
// "modprobe": exec.LookPath's answer, else the first executable of that name
// in /usr/sbin, /sbin, /usr/bin or /bin.
func FindTool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	for _, dir := range toolDirs() {
		cand := filepath.Join(dir, name)
		if fi, statErr := os.Stat(cand); statErr == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return cand, nil
		}
	}
	return "", fmt.Errorf("testmod: %s not found on PATH or in %s: %w", name, strings.Join(toolDirs(), ", "), err)
}

// RequireTool returns the path of tool name (see FindTool). When the tool
// is missing it fails the test if the environment variable CI is "true"
// and skips it otherwise, so a CI machine without kmod cannot pass
// vacuously.
func RequireTool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := FindTool(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI=true but required tool %s is missing (kmod's tools come from Debian package kmod): %v", name, err)
		return ""
	}
	tb.Skipf("skipping: %v", err)
	return ""
}

// ToolError reports a kmod tool run that failed: it exited non-zero, could
// not be started, or (ExitCode 0) wrote to standard error.
type ToolError struct {
	Path     string   // the executable
	Args     []string // its arguments, without the executable
	ExitCode int      // -1 if it could not be run or was killed
	Stderr   string   // everything it wrote to standard error
	Err      error    // the underlying error, nil if it exited 0
}

// Error describes the run, including the tool's standard error.
func (e *ToolError) Error() string {
	cmd := strings.Join(append([]string{e.Path}, e.Args...), " ")
	stderr := strings.TrimSpace(e.Stderr)
	switch {
	case e.Err != nil && stderr != "":
		return fmt.Sprintf("testmod: %s: %v; stderr:\n%s", cmd, e.Err, stderr)
	case e.Err != nil:
		return fmt.Sprintf("testmod: %s: %v", cmd, e.Err)
	}
	return fmt.Sprintf("testmod: %s succeeded but wrote to stderr:\n%s", cmd, stderr)
}

// Unwrap returns the underlying error.
func (e *ToolError) Unwrap() error { return e.Err }

// RunTool runs the kmod tool name (found with FindTool) with args under
// LC_ALL=C and returns its standard output. It is strict: a non-zero exit
// status and any output on standard error are both reported as a
// *ToolError (whose ExitCode tells the two apart), because kmod writes
// warnings there that a valid synthetic tree must not provoke.
func RunTool(ctx context.Context, name string, args ...string) (string, error) {
	p, err := FindTool(name)
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, p, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	runErr := cmd.Run()
	if runErr == nil && stderr.Len() == 0 {
		return stdout.String(), nil
	}
	te := &ToolError{Path: p, Args: args, ExitCode: -1, Stderr: stderr.String(), Err: runErr}
	var exitErr *exec.ExitError
	switch {
	case runErr == nil:
		te.ExitCode = 0
	case errors.As(runErr, &exitErr):
		te.ExitCode = exitErr.ExitCode()
	}
	return stdout.String(), te
}

// hasConfigArg reports whether args already choose a configuration with
// -C/--config.
func hasConfigArg(args []string) bool {
	for _, a := range args {
		if a == "-C" || a == "--config" || strings.HasPrefix(a, "--config=") ||
			(strings.HasPrefix(a, "-C") && !strings.HasPrefix(a, "--")) {
			return true
		}
	}
	return false
}

// RunDepmod runs the real "depmod -b ROOT [args...] RELEASE", which writes
// the modules.* indexes into ModuleDir(root, release). Unless args contain
// -C/--config, it adds "-C ROOT/etc/depmod.d" so the host's
// /etc/depmod.d and /usr/lib/depmod.d cannot change the result (the
// directory need not exist; Tree.Files can fill it). Errors are
// *ToolError values carrying depmod's standard error; as with RunTool,
// warnings on standard error count as failure.
func RunDepmod(ctx context.Context, root, release string, args ...string) error {
	all := []string{"-b", root}
	if !hasConfigArg(args) {
		all = append(all, "-C", filepath.Join(root, "etc", "depmod.d"))
	}
	all = append(all, args...)
	all = append(all, release)
	_, err := RunTool(ctx, "depmod", all...)
	return err
}

// RunModprobe runs the real "modprobe -d ROOT -S RELEASE [args...]" and
// returns its standard output; "--show-depends NAME" and "-R NAME" are the
// useful modes for trees that can never be loaded. Unless args contain
// -C/--config, it adds "-C ROOT/etc/modprobe.d" to keep the host's
// modprobe.d files out. Errors are as for RunTool.
func RunModprobe(ctx context.Context, root, release string, args ...string) (string, error) {
	all := []string{"-d", root, "-S", release}
	if !hasConfigArg(args) {
		all = append(all, "-C", filepath.Join(root, "etc", "modprobe.d"))
	}
	return RunTool(ctx, "modprobe", append(all, args...)...)
}

// RunModinfo runs the real "modinfo args..." and returns its standard
// output. Errors are as for RunTool.
func RunModinfo(ctx context.Context, args ...string) (string, error) {
	return RunTool(ctx, "modinfo", args...)
}

// ToolFeatures returns the build features the kmod tool name reports on
// the second line of its --version output, e.g. {"ZSTD": true, "XZ": true,
// "ZLIB": false, ...} for Debian 12's kmod 30, whose depmod therefore
// ignores .ko.gz files altogether.
func ToolFeatures(ctx context.Context, name string) (map[string]bool, error) {
	out, err := RunTool(ctx, name, "--version")
	if err != nil {
		return nil, err
	}
	feats := map[string]bool{}
	for _, f := range strings.Fields(out) {
		if len(f) > 1 && (f[0] == '+' || f[0] == '-') {
			feats[f[1:]] = f[0] == '+'
		}
	}
	if len(feats) == 0 {
		return nil, fmt.Errorf("testmod: no feature list in %s --version output %q", name, out)
	}
	return feats, nil
}
