package testmod

import (
	"os"
	"testing"
)

// DefaultSignFile is where Debian's linux-kbuild-6.1 package (which
// scripts/setup.sh installs) puts the kernel's scripts/sign-file.
const DefaultSignFile = "/usr/lib/linux-kbuild-6.1/scripts/sign-file"

// SignFile returns the path of the kernel's sign-file: GOKMOD_SIGN_FILE,
// else DefaultSignFile. A missing one fails the test under CI=true and
// skips it otherwise.
func SignFile(tb testing.TB) string {
	tb.Helper()
	p := os.Getenv("GOKMOD_SIGN_FILE")
	if p == "" {
		p = DefaultSignFile
	}
	if _, err := os.Stat(p); err != nil {
		requireFail(tb, "the kernel's sign-file (Debian package linux-kbuild-6.1)", err)
	}
	return p
}
