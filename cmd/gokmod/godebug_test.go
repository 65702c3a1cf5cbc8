package main

import (
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoGOMAXPROCSUpdater: gokmod is built with updatemaxprocs=0, so
// that its runtime starts no GOMAXPROCS update goroutine (main.go says
// why). The test binary takes the main package's //go:debug lines, so its
// build settings are gokmod's.
func TestNoGOMAXPROCSUpdater(t *testing.T) {
	bi, ok := debug.ReadBuildInfo()
	require.True(t, ok, "no build information")
	var godebug string
	for _, s := range bi.Settings {
		if s.Key == "DefaultGODEBUG" {
			godebug = s.Value
		}
	}
	assert.True(t, slices.Contains(strings.Split(godebug, ","), "updatemaxprocs=0"), "DefaultGODEBUG %q", godebug)
}
