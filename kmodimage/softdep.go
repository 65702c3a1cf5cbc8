package kmodimage

import (
	"fmt"
	"strings"

	"github.com/gokmod/modprobe"
)

// Softdeps returns the soft dependencies that make loading order[0] load
// the modules of order from last to first: "order[i] pre: order[i+1]" for
// each pair, as KMM turns modulesLoadingOrder into modprobe.d lines. A
// failure to load any but order[0] is ignored, as for every softdep.
func Softdeps(order []string) []modprobe.Softdep {
	var out []modprobe.Softdep
	for i := 0; i+1 < len(order); i++ {
		out = append(out, modprobe.Softdep{Module: order[i], Pre: []string{order[i+1]}})
	}
	return out
}

// SoftdepConf returns the same dependencies as the text of a modprobe.d
// file, as KMM's operator writes it for its worker.
func SoftdepConf(order []string) string {
	var b strings.Builder
	for _, sd := range Softdeps(order) {
		fmt.Fprintf(&b, "softdep %s pre: %s\n", sd.Module, strings.Join(sd.Pre, " "))
	}
	return b.String()
}
