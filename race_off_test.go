//go:build !race

package modprobe

// raceEnabled reports whether the tests run under the race detector,
// whose shadow memory makes the resident set no measure of the heap.
const raceEnabled = false
