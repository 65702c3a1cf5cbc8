package main

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe/modprobetest"

	"github.com/gokmod/modprobe/internal/cli"
)

// Every tool runs with the context main cancels at SIGTERM or SIGINT
// (env.ctx). These cases run each tool in-process on the fake kernel with
// that context cancelled as a signal cancels it: before the tool starts,
// or while the insertion of one module is in flight (the fake kernel's
// OnInsert). They check that the module in flight goes in, nothing after
// it, and what the tool prints: nothing of its own for kmod's tools (main
// then ends the process by the signal), the signal for gokmod's.

// runCancellable runs a tool on the fake kernel with ctx as its context.
func runCancellable(ctx context.Context, k *modprobetest.Kernel, stdin string, args ...string) outcome {
	return runFakeCtx(ctx, k, map[string]string{}, stdin, append([]string{"/sbin/gokmod"}, args...))
}

// signalled returns a context cancelled as SIGTERM cancels the tools'.
func signalled() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	return ctx, func() { cancel(&cli.SignalError{Sig: syscall.SIGTERM}) }
}

func TestCancelDuringInsert(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  func(root, bundle string) []string
		stdin func(bundle string) string
		code  int
		// stderr is the tool's output; the fake kernel's cancellation
		// comes while a's insertion is in flight.
		stderr string
	}{
		{"modprobe -a", func(root, _ string) []string { return []string{"modprobe", "-d", root, "-a", "x", "a", "p"} }, nil, 1, ""},
		{"kata", func(root, _ string) []string {
			return []string{"kata", "-d", root, "--config", "/dev/null", "--annotation", "x; a; p"}
		}, nil, 1, "kata: stopped by SIGTERM\n"},
		{"oci-hook", func(root, _ string) []string { return []string{"oci-hook", "-d", root} }, runcState, 1, "[module-hook] stopped by SIGTERM\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, k := fakeTree(t)
			ctx, cancel := signalled()
			k.OnInsert(func(ins modprobetest.Insert) error {
				if ins.Module == "a" {
					cancel()
				}
				return nil
			})
			bundle := ""
			stdin := ""
			if tc.stdin != nil {
				bundle = runcBundle(t, "KERNEL_MODULES=x,a,p")
				stdin = tc.stdin(bundle)
			}
			got := runCancellable(ctx, k, stdin, tc.args(root, bundle)...)
			expect(t, got, tc.code, "", tc.stderr)
			if ins := k.Inserted(); !slices.Equal(ins, []string{"x", "a"}) {
				t.Errorf("inserted %v, want x and a (in flight at the signal), nothing after", ins)
			}
		})
	}
}

// TestCancelBeforeStart: a tool whose context is already cancelled does
// nothing that changes the system, and says nothing kmod would not.
func TestCancelBeforeStart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   func(root, cfg string) []string
		stdin  string
		code   int
		stdout string
		stderr string
	}{
		{"modprobe", func(root, _ string) []string { return []string{"modprobe", "-d", root, "x"} }, "", 1, "", ""},
		{"modprobe -a", func(root, _ string) []string { return []string{"modprobe", "-d", root, "-a", "x", "a"} }, "", 1, "", ""},
		{"modprobe -R", func(root, _ string) []string { return []string{"modprobe", "-d", root, "-R", "x"} }, "", 1, "", ""},
		{"modprobe -r", func(root, _ string) []string { return []string{"modprobe", "-d", root, "-r", "c"} }, "", 1, "", ""},
		{"insmod", func(root, _ string) []string {
			return []string{"insmod", filepath.Join(root, "lib/modules", fakeRelease, "kernel/x.ko")}
		}, "", 1, "", ""},
		{"rmmod", func(string, string) []string { return []string{"rmmod", "c"} }, "", 1, "", ""},
		{"modinfo", func(root, _ string) []string { return []string{"modinfo", "-b", root, "-k", fakeRelease, "x"} }, "", 1, "", ""},
		// What depmod says of fakeTree's tree before it gets to the step
		// that sees the cancellation.
		{"depmod", func(root, _ string) []string { return []string{"depmod", "-b", root, fakeRelease} }, "", 1, "",
			"depmod: WARNING: could not open modules.order at ROOT/lib/modules/" + fakeRelease + ": No such file or directory\n"},
		{"kata", func(root, _ string) []string {
			return []string{"kata", "-d", root, "--config", "/dev/null", "--annotation", "x"}
		}, "", 1, "",
			"kata: stopped by SIGTERM\n"},
		{"oci-hook", func(root, _ string) []string { return []string{"oci-hook", "-d", root} }, `{"bundle":"/nonexistent"}`, 1, "",
			"[module-hook] state: reading standard input: context canceled (stopped by SIGTERM)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, k := fakeTree(t)
			// c needs b and a: modprobe -r and rmmod have something to
			// remove.
			if o := runFake(k, "modprobe", "-d", root, "c"); o.Code != 0 {
				t.Fatalf("preparing: %s", o)
			}
			before := len(k.Inserts())
			ctx, cancel := signalled()
			cancel()
			got := runCancellable(ctx, k, tc.stdin, tc.args(root, "")...)
			expect(t, got, tc.code, tc.stdout, strings.ReplaceAll(tc.stderr, "ROOT", root))
			if n := len(k.Inserts()); n != before {
				t.Errorf("inserts after the signal: %v", k.Inserts()[before:])
			}
			if rm := k.Removes(); len(rm) != 0 {
				t.Errorf("removes after the signal: %v", rm)
			}
			if bin := filepath.Join(root, "lib/modules", fakeRelease, "modules.dep.bin"); exists(bin) {
				t.Error("depmod wrote its indexes after the signal")
			}
		})
	}
}
