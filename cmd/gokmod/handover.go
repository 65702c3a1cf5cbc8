package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// workerBinary is the name of the command that runs KMM's worker and
// gokmod kmm (cmd/worker). Its tools link what modprobe's process should
// not (net/http, TLS, YAML, an image library), so it is a binary of its
// own, installed beside gokmod.
const workerBinary = "worker"

// handOver runs the worker binary beside the running executable with
// argv0 and args, as git runs its subcommands: it replaces this process
// (same process, environment and signal dispositions), so it returns only
// when it could not, with status 1 and an error naming the path it tried.
// The worker gets gokmod's argv[0], so that its messages and usage name
// the command the user typed.
func handOver(e *env, argv0 string, args []string) int {
	path, err := workerPath()
	if err == nil {
		err = syscall.Exec(path, append([]string{argv0}, args...), os.Environ())
	}
	if errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("%s is not installed: gokmod kmm and gokmod worker run it from gokmod's directory (go build -o DIR/ ./cmd/...)", path)
	}
	fmt.Fprintf(e.Stderr, "gokmod: %v\n", err)
	return 1
}

// workerPath is where the worker binary must be: beside the running
// executable.
func workerPath() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the worker binary: %w", err)
	}
	path := filepath.Join(filepath.Dir(self), workerBinary)
	fi, err := os.Stat(path)
	if err != nil {
		return path, fmt.Errorf("worker binary: %w", err)
	}
	// A link named worker to gokmod (how gokmod was KMM's worker before
	// cmd/worker) would hand over to itself for ever.
	if me, err := os.Stat(self); err == nil && os.SameFile(fi, me) {
		return path, fmt.Errorf("%s is gokmod itself, not the worker binary (cmd/worker): install the worker binary there", path)
	}
	return path, nil
}
