package testmod

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// DebianTree returns the root and release of the Debian kernel tree that
// scripts/setup.sh fetched and indexed (the file .cache/debian/current at
// the top of the repository names them). The environment variable
// GOKMOD_DEBIAN_TREE ("ROOT RELEASE") overrides it. When there is no tree
// the test fails if CI is "true" and is skipped otherwise.
func DebianTree(tb testing.TB) (root, release string) {
	tb.Helper()
	root, release, err := findDebianTree()
	if err != nil {
		requireFail(tb, "the Debian kernel tree", err)
	}
	return root, release
}

func findDebianTree() (root, release string, err error) {
	spec := os.Getenv("GOKMOD_DEBIAN_TREE")
	if spec == "" {
		top, err := repoRoot()
		if err != nil {
			return "", "", err
		}
		// Not an input: the marker the test setup wrote in the repository's cache.
		b, err := os.ReadFile(filepath.Join(top, ".cache", "debian", "current"))
		if err != nil {
			return "", "", err
		}
		spec = string(b)
	}
	return parseTreeSpec(spec)
}

// repoRoot returns the directory holding go.mod above the working
// directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
