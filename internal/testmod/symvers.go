package testmod

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// DebianSymvers returns the Module.symvers of Debian 12's kernel tree
// (DebianTree), DebianSymvers13 Debian 13's (Debian13Tree): the file
// scripts/setup.sh unpacked from linux-headers-RELEASE and named in
// .cache/debian/symvers or .cache/debian13/symvers. The environment
// variables GOKMOD_DEBIAN_SYMVERS and GOKMOD_DEBIAN13_SYMVERS override
// them. When it is missing the test fails if CI is "true" and is skipped
// otherwise.
func DebianSymvers(tb testing.TB) string {
	tb.Helper()
	return symvers(tb, "GOKMOD_DEBIAN_SYMVERS", "debian")
}

// DebianSymvers13 is DebianSymvers for Debian 13's tree.
func DebianSymvers13(tb testing.TB) string {
	tb.Helper()
	return symvers(tb, "GOKMOD_DEBIAN13_SYMVERS", "debian13")
}

func symvers(tb testing.TB, env, dir string) string {
	tb.Helper()
	p := os.Getenv(env)
	var err error
	if p == "" {
		var top string
		if top, err = repoRoot(); err == nil {
			var b []byte
			// Not an input: a marker the test setup wrote in the repository's cache.
			b, err = os.ReadFile(filepath.Join(top, ".cache", dir, "symvers"))
			p = strings.TrimSpace(string(b))
		}
	}
	if err == nil {
		_, err = os.Stat(p)
	}
	if err != nil {
		requireFail(tb, "Module.symvers of "+dir, err)
		return ""
	}
	return p
}
