package depmod_test

import (
	"os"
	"testing"

	"github.com/gokmod/modprobe/internal/fdleak"
)

// TestMain fails the tests when they leave a file descriptor open: this
// package opens module files.
func TestMain(m *testing.M) { os.Exit(fdleak.Main(m)) }
