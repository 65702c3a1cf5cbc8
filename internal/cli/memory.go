package cli

import (
	"runtime"
	"runtime/debug"
)

// treeGCPercent is the collector's target for a tool whose work grows
// with a module tree: a new cycle when the heap has grown by half of
// what the last one left live.
const treeGCPercent = 50

// keptTreeGCPercent is the target for a tool that keeps what it learns
// of every module until the end (depmod: every module's symbols and
// dependencies): its live heap grows with the tree, and a cycle at every
// half of it marks that heap again and again. Twice what is live stays
// well within kmod's peak (depmod of Debian 12: 52 MiB against kmod 30's
// 77) for a fifth fewer instructions than treeGCPercent (callgrind).
const keptTreeGCPercent = 100

// WorkGrowsWithTree tells the process that the tool now works through a
// whole module tree (depmod, modinfo of many modules): the collector,
// which ProcessEnv turned off for a tool's short life, runs again, so
// that the garbage each module leaves (its file, decompressed) does not
// pile up to the memory limit. It does nothing in an Env a test made.
func (e *Env) WorkGrowsWithTree() {
	if e.tuned {
		debug.SetGCPercent(treeGCPercent)
	}
}

// WorkKeepsTree is WorkGrowsWithTree for a tool that keeps something of
// every module until it ends (depmod).
func (e *Env) WorkKeepsTree() {
	if e.tuned {
		debug.SetGCPercent(keptTreeGCPercent)
	}
}

// serialGCPercent is the collector's target for a tool whose work is
// serial steps that keep nothing (WorkIsSerial): the heap goal is then
// its minimum, 1 MiB (modinfo of every Debian 12 module: peak RSS 9.3
// MiB against 9.6 at treeGCPercent, the same CPU).
const serialGCPercent = 25

// WorkIsSerial tells the process that the tool's work from now on runs
// on one goroutine, in steps too small to share and that keep nothing
// (modinfo of many plain modules: a few reads each): one processor runs
// Go code, so that no second one keeps a cache of heap spans of its own,
// and the collector keeps the heap at its smallest.
func (e *Env) WorkIsSerial() {
	if e.tuned {
		runtime.GOMAXPROCS(1)
		debug.SetGCPercent(serialGCPercent)
	}
}
