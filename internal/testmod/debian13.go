package testmod

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Debian13Tree returns the root and release of Debian 13's kernel tree
// that scripts/setup.sh fetched and indexed with Debian 13's depmod (the
// file .cache/debian13/current names them). Its modules are signed .ko.xz
// files under ROOT/usr/lib/modules, and ROOT/lib links to usr/lib as on an
// installed system (merged /usr), so ModuleDir(root, release) works for it
// as for Debian 12's tree. The environment variable GOKMOD_DEBIAN13_TREE
// ("ROOT RELEASE") overrides it. When there is no tree the test fails if
// CI is "true" and is skipped otherwise.
func Debian13Tree(tb testing.TB) (root, release string) {
	tb.Helper()
	spec, err := cacheSpec("GOKMOD_DEBIAN13_TREE", "current")
	if err == nil {
		root, release, err = parseTreeSpec(spec)
	}
	if err != nil {
		requireFail(tb, "Debian 13's kernel tree", err)
		return "", ""
	}
	return root, release
}

// Kmod34Tool returns the path of Debian 13's kmod 34 tool name
// ("modprobe", "depmod", "modinfo", "insmod", "rmmod", "lsmod" or "kmod"):
// a wrapper scripts/setup.sh wrote that runs Debian 13's kmod with Debian
// 13's loader and libraries under that name. The environment variable
// GOKMOD_KMOD34_BIN names another directory of such tools. When it is
// missing the test fails if CI is "true" and is skipped otherwise.
func Kmod34Tool(tb testing.TB, name string) string {
	tb.Helper()
	dir, err := cacheSpec("GOKMOD_KMOD34_BIN", "kmod-bin")
	if err == nil {
		p := filepath.Join(strings.TrimSpace(dir), name)
		if _, err = os.Stat(p); err == nil {
			return p
		}
	}
	requireFail(tb, "Debian 13's kmod "+name, err)
	return ""
}

// cacheSpec returns the environment variable env, or else the contents of
// .cache/debian13/file at the top of the repository.
func cacheSpec(env, file string) (string, error) {
	if v := os.Getenv(env); v != "" {
		return v, nil
	}
	top, err := repoRoot()
	if err != nil {
		return "", err
	}
	// Not an input: a marker the test setup wrote in the repository's cache.
	b, err := os.ReadFile(filepath.Join(top, ".cache", "debian13", file))
	return string(b), err
}

// parseTreeSpec splits "ROOT RELEASE" and checks that the module
// directory exists.
func parseTreeSpec(spec string) (root, release string, err error) {
	f := strings.Fields(spec)
	if len(f) != 2 {
		return "", "", fmt.Errorf("malformed kernel tree spec %q, want \"ROOT RELEASE\"", spec)
	}
	if _, err := os.Stat(ModuleDir(f[0], f[1])); err != nil {
		return "", "", err
	}
	return f[0], f[1], nil
}

// requireFail fails the test for a missing what when CI is "true" and
// skips it otherwise.
func requireFail(tb testing.TB, what string, err error) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI=true but %s is missing (run scripts/setup.sh): %v", what, err)
	}
	tb.Skipf("skipping: %s is missing: %v (run scripts/setup.sh)", what, err)
}
