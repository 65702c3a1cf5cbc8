package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	// Not an input: procfs, read for the benchmark report.
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// firstLine runs a command and returns the first line of its output.
func firstLine(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return "unknown (" + err.Error() + ")"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

// gokmodVersion describes the checked-out gokmod source with read-only
// git commands: the commit and whether the work tree differs from it.
func gokmodVersion(repo string) string {
	rev := firstLine("git", "-C", repo, "rev-parse", "--short=12", "HEAD")
	cmd := exec.Command("git", "-C", repo, "status", "--porcelain", "--untracked-files=no")
	cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0")
	out, err := cmd.Output()
	switch {
	case err != nil:
		return rev
	case len(bytes.TrimSpace(out)) > 0:
		n := len(strings.Split(strings.TrimSpace(string(out)), "\n"))
		return fmt.Sprintf("%s + uncommitted changes to %d tracked files", rev, n)
	}
	return rev
}

// urootVersion returns the u-root module version this program was built
// with.
func urootVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/u-root/u-root" {
			return d.Path + " " + d.Version
		}
	}
	return "unknown"
}

// shellJoin quotes args for a POSIX shell where needed.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// binaries are the programs built for one run.
type binaries struct {
	harness, harnessCmd string // libkmod harness and how it was built
	gokmod, gokmodCmd   string // gokmod binary and how it was built
	modprobeLink        string // link named modprobe to gokmod
	gokmodLinking       string // "static" or "dynamic (cgo)"
	// The same with CGO_ENABLED=0, to show what linking with the C
	// library costs at start-up.
	noCgo, noCgoCmd string
	noCgoLink       string
	hello           string // Go hello world
}

const helloSource = `package main

import "fmt"

func main() { fmt.Println("hello, world") }
`

// build compiles the libkmod harness, gokmod and a Go hello world into
// dir.
func build(c *config, dir string) (*binaries, error) {
	b := &binaries{
		harness:      filepath.Join(dir, "kmod-harness"),
		gokmod:       filepath.Join(dir, "gokmod"),
		modprobeLink: filepath.Join(dir, "modprobe"),
		noCgo:        filepath.Join(dir, "nocgo", "gokmod"),
		noCgoLink:    filepath.Join(dir, "nocgo", "modprobe"),
		hello:        filepath.Join(dir, "hello"),
	}

	src := filepath.Join(dir, "harness.c")
	if err := os.WriteFile(src, harnessSource, 0o644); err != nil {
		return nil, err
	}
	flags := strings.Fields(firstLineOr("", "pkg-config", "--cflags", "--libs", "libkmod"))
	if len(flags) == 0 {
		flags = []string{"-lkmod"}
	}
	args := append([]string{"-O2", "-Wall", "-o", b.harness, src}, flags...)
	b.harnessCmd = "gcc " + strings.Join(args, " ")
	if err := runQuiet("", "gcc", args...); err != nil {
		return nil, fmt.Errorf("compiling the libkmod harness (is libkmod-dev installed?): %w", err)
	}

	b.gokmodCmd = fmt.Sprintf("(cd %s && go build -o %s ./cmd/gokmod); ln -s gokmod %s", c.repo, b.gokmod, b.modprobeLink)
	if err := runQuiet(c.repo, "go", "build", "-o", b.gokmod, "./cmd/gokmod"); err != nil {
		return nil, fmt.Errorf("building gokmod: %w", err)
	}
	if err := os.Symlink("gokmod", b.modprobeLink); err != nil {
		return nil, err
	}
	b.gokmodLinking = linking(b.gokmod)

	b.noCgoCmd = fmt.Sprintf("(cd %s && CGO_ENABLED=0 go build -o %s ./cmd/gokmod); ln -s gokmod %s", c.repo, b.noCgo, b.noCgoLink)
	if err := runQuiet(c.repo, "env", "CGO_ENABLED=0", "go", "build", "-o", b.noCgo, "./cmd/gokmod"); err != nil {
		return nil, fmt.Errorf("building gokmod without cgo: %w", err)
	}
	if err := os.Symlink("gokmod", b.noCgoLink); err != nil {
		return nil, err
	}

	hdir := filepath.Join(dir, "hello-src")
	if err := os.MkdirAll(hdir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(hdir, "go.mod"), []byte("module hello\n\ngo 1.26\n"), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(hdir, "main.go"), []byte(helloSource), 0o644); err != nil {
		return nil, err
	}
	if err := runQuiet(hdir, "go", "build", "-o", b.hello, "."); err != nil {
		return nil, fmt.Errorf("building hello world: %w", err)
	}
	return b, nil
}

// linking tells whether the executable at path asks for a dynamic loader,
// as a Go binary does when it links the C library through cgo.
func linking(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "dynamic (cgo, links libc)"
		}
	}
	return "static"
}

func firstLineOr(def, name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return def
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line
}

// runQuiet runs a command in dir and returns its output in the error when
// it fails.
func runQuiet(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// loadAvg returns the first three fields of /proc/loadavg.
func loadAvg() string {
	// Not an input: procfs, read for the benchmark report.
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
