package cli

import "runtime/debug"

// treeGCPercent is the collector's target for a tool whose work grows
// with a module tree: a new cycle when the heap has grown by half of
// what the last one left live.
const treeGCPercent = 50

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
