//go:build race

package modfile

// raceEnabled: the tests run under the race detector.
const raceEnabled = true
