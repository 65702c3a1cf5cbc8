package main

import (
	"os"
	"testing"

	"github.com/gokmod/modprobe/internal/fdleak"
)

// TestMain lets a test run this package's test binary as gokmod itself:
// with GOKMOD_TEST_AS_TOOL=1 in its environment it is the command (the
// OCI hook test has runc start it as a hook). Otherwise it runs the tests
// and fails them when they leave a file descriptor open.
func TestMain(m *testing.M) {
	if os.Getenv("GOKMOD_TEST_AS_TOOL") == "1" {
		main()
	}
	os.Exit(fdleak.Main(m))
}
