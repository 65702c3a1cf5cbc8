//go:build vmguest

package guest

import (
	"testing"

	"github.com/gokmod/modprobe/internal/vmtest"
)

func TestMain(m *testing.M) { vmtest.GuestMain(m) }
