package vmtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Import paths of the packages the VM runs.
const (
	GuestPackage  = "github.com/gokmod/modprobe/internal/vmtest/guest"
	GokmodPackage = "github.com/gokmod/modprobe/cmd/gokmod"
	WorkerPackage = "github.com/gokmod/modprobe/cmd/worker"
	// LibmodprobePackage loads modules through the library with its
	// defaults, for the benchmarks that measure the library's path.
	LibmodprobePackage = "github.com/gokmod/modprobe/internal/vmtest/cmd/libmodprobe"
)

// BuildTag is the build tag of guest test files ("//go:build vmguest"),
// which BuildTest sets.
const BuildTag = "vmguest"

// BuildTest compiles the tests of the package pkg (an import path or a
// directory) into the static executable out for the guest:
// "go test -c -tags vmguest -o OUT PKG" with CGO_ENABLED=0 and symbol
// tables stripped (stack traces keep their names).
func BuildTest(ctx context.Context, pkg, out string) error {
	return goTool(ctx, "test", "-c", "-tags", BuildTag, "-ldflags=-s -w", "-o", out, pkg)
}

// BuildGokmod compiles cmd/gokmod into the static executable out.
func BuildGokmod(ctx context.Context, out string) error {
	return goTool(ctx, "build", "-ldflags=-s -w", "-o", out, GokmodPackage)
}

// BuildTools compiles cmd/gokmod and cmd/worker into static executables
// named gokmod and worker in the directory dir: the set gokmod kmm needs,
// since it hands over to the worker beside it.
func BuildTools(ctx context.Context, dir string) error {
	return goTool(ctx, "build", "-ldflags=-s -w", "-o", dir+"/", GokmodPackage, WorkerPackage)
}

// BuildLibmodprobe compiles internal/vmtest/cmd/libmodprobe into the
// static executable out.
func BuildLibmodprobe(ctx context.Context, out string) error {
	return goTool(ctx, "build", "-ldflags=-s -w", "-o", out, LibmodprobePackage)
}

// ConsumerDir is the directory of internal/consumer, a module of its own
// that imports gokmod as its consumers do, relative to internal/vmtest.
const ConsumerDir = "../consumer"

// BuildConsumerTest compiles the tests of the module in ConsumerDir,
// guest tests included, into out with the race detector and the Go
// toolchain named by toolchain (GOTOOLCHAIN: the oldest release gokmod
// supports, "" for the running one). The race detector needs cgo, so out
// is linked against the host's C library, which the guest image must
// carry (ELFDependencies).
func BuildConsumerTest(ctx context.Context, out, toolchain string) error {
	env := []string{"CGO_ENABLED=1"}
	if toolchain != "" {
		env = append(env, "GOTOOLCHAIN="+toolchain)
	}
	return runGo(ctx, ConsumerDir, env, "test", "-c", "-race", "-tags", BuildTag, "-o", out, ".")
}

// goTool runs the go command with args, cross-compiling for the guest
// (linux/amd64, no cgo).
func goTool(ctx context.Context, args ...string) error {
	return runGo(ctx, "", []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}, args...)
}

// runGo runs the go command with args in dir ("" for the current
// directory), with env added to the environment.
func runGo(ctx context.Context, dir string, env []string, args ...string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("vmtest: go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return nil
}
