package vmtest

import "strings"

// PreflightEntry is one module of the guest's preflight test: the module
// file, the files to load before it (its dependencies, in insmod order)
// and preflight's verdict on the host: whether it loads and, if not, the
// check it fails first (one of the Reason constants).
type PreflightEntry struct {
	Module string   `json:"module"`
	Deps   []string `json:"deps,omitempty"`
	Loads  bool     `json:"loads"`
	Reason string   `json:"reason,omitempty"`
}

// The checks a module fails, as preflight's problem kinds and the
// kernel's log name them.
const (
	ReasonStruct     = "struct"     // .gnu.linkonce.this_module's size
	ReasonCRC        = "crc"        // "disagrees about version of symbol"
	ReasonVermagic   = "vermagic"   // "version magic ... should be ..."
	ReasonUnknown    = "unknown"    // "Unknown symbol"
	ReasonNamespace  = "namespace"  // "from namespace ..., but does not import it"
	ReasonDependency = "dependency" // a module loaded before it failed
	ReasonSignature  = "signature"
	ReasonOther      = "other" // a refusal the kernel gave no known reason for
)

// RefusalReason tells from the kernel's log lines of a refused load
// which check the module failed: the first of the kernel's own order
// that a line names, ReasonOther if none.
func RefusalReason(lines []string) string {
	for _, r := range []struct{ reason, text string }{
		{ReasonStruct, ".gnu.linkonce.this_module section size must match"},
		{ReasonCRC, "disagrees about version of symbol"},
		{ReasonVermagic, ": version magic '"},
		{ReasonNamespace, "but does not import it"},
		{ReasonUnknown, ": Unknown symbol "},
	} {
		for _, l := range lines {
			if strings.Contains(l, r.text) {
				return r.reason
			}
		}
	}
	return ReasonOther
}
