package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe/internal/cli"
	"github.com/gokmod/modprobe/kmodimage"
	"github.com/gokmod/modprobe/modprobetest"
)

// The worker runs with the context main cancels at SIGTERM or SIGINT
// (cli.Env.Ctx). These tests run it in-process on the fake kernel with
// that context cancelled as a signal cancels it.

// signalled returns a context cancelled as SIGTERM cancels the worker's.
func signalled() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	return ctx, func() { cancel(&cli.SignalError{Sig: syscall.SIGTERM}) }
}

// TestCancelKMMBeforeStart: a worker whose context a signal ended before
// it started reads no configuration, changes nothing, and says which
// signal stopped it.
func TestCancelKMMBeforeStart(t *testing.T) {
	_, k := hostTree(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, cfg, "kernelVersion: "+fakeRelease+"\ncontainerImage: example.com/oot:1\nmodprobe:\n  moduleName: x\n")
	ctx, cancel := signalled()
	cancel()
	expect(t, runFakeCtx(ctx, k, []string{"/sbin/gokmod", "kmm", "load", cfg}), 1, "", "kmm: stopped by SIGTERM\n")
	if len(k.Inserts()) != 0 || len(k.Removes()) != 0 {
		t.Errorf("inserts %v removes %v after the signal", k.Inserts(), k.Removes())
	}
}

// TestCancelKMMLoad: KMM's worker signalled while the first module of its
// loading order goes in loads nothing after it and fails with the signal.
func TestCancelKMMLoad(t *testing.T) {
	k, host, shared, cfg := kmmNode(t)
	ctx, cancel := signalled()
	k.OnInsert(func(ins modprobetest.Insert) error {
		if ins.Module == "oot_dep" {
			cancel()
		}
		return nil
	})
	fw := filepath.Join(t.TempDir(), "fw")
	writeFile(t, filepath.Join(k.SysfsDir(), "module/firmware_class/parameters/path"), "\n")
	got := runFakeCtx(ctx, k, []string{"/sbin/gokmod", "kmm", "load", cfg, "--shared-dir", shared, "--host-root", host, "--kernel", fakeRelease, "--firmware-path", fw})
	if got.Code != 1 || got.Stderr != "kmm: failed to load module oot_main: load oot_main: context canceled (stopped by SIGTERM)\n" {
		t.Errorf("got:\n%s", got)
	}
	if ins := k.Inserted(); !slices.Equal(ins, []string{"oot_dep"}) {
		t.Errorf("inserted %v, want oot_dep (in flight at the signal), nothing after", ins)
	}
}

// TestKMMBoundedConfig: a worker configuration that is a FIFO without a
// writer, a device that never ends or a file over kmodimage.MaxConfigSize
// is refused, naming it, without a wait.
func TestKMMBoundedConfig(t *testing.T) {
	const kmmMax = "2097152"
	dir := t.TempDir()
	fifo := filepath.Join(dir, "config.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	over := filepath.Join(dir, "over.yaml")
	if err := os.WriteFile(over, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(over, kmodimage.MaxConfigSize+1); err != nil {
		t.Fatal(err)
	}
	_, k := hostTree(t)
	for in, stderr := range map[string]string{
		fifo:        "kmm: could not read config file " + fifo + ": open " + fifo + ": invalid argument\n",
		"/dev/zero": "kmm: could not read config file /dev/zero: invalid worker configuration: more than " + kmmMax + " bytes\n",
		over:        "kmm: could not read config file " + over + ": invalid worker configuration: more than " + kmmMax + " bytes\n",
	} {
		expect(t, runFake(k, "gokmod", "kmm", "load", in), 1, "", stderr)
	}
}
