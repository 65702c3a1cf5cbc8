package vmtest

import (
	"path/filepath"
	"strings"

	"github.com/gokmod/modprobe/internal/testmod"
)

// Modules returns the names of the modules TestGuest puts into the image
// (with everything they need, see ModuleClosure) for the guest tests. Add
// a name here when a guest test needs its module.
func Modules() []string {
	return []string{
		// A network device with a parameter (numdummies) and no
		// dependencies.
		"dummy",
		// A dependency chain (ip_vs, nf_conntrack, nf_defrag_ipv4/6,
		// libcrc32c and its crc32c softdep) and, with the other
		// schedulers, many modules sharing it for concurrent loads.
		"ip_vs_wrr", "ip_vs_rr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_sh", "ip_vs_dh", "ip_vs_sed", "ip_vs_nq",
		// For the benchmarks: a stack of 26 modules (Sound Open
		// Firmware) and over 20 modules without dependencies (NLS).
		"snd-sof-pci-intel-tgl",
		// A module whose init fails with EINVAL on a bad parameter
		// ("bonding mode=bogus"), with a dependency (tls).
		"bonding",
		// A stack of three small modules (macvlan, tap) that the
		// second tree of TestGuest holds recompressed.
		"macvtap",
		// A small network device without dependencies that no other
		// test loads; the Debian 13 image carries it edited to declare
		// a weak dependency (WeakdepModule).
		"nlmon",
	}
}

// NLSModules returns the module names of the kernel tree's NLS modules,
// which the benchmarks load as a set of independent modules.
func NLSModules(root, release string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(testmod.ModuleDir(root, release), "kernel/fs/nls/*.ko*"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range paths {
		if s := ModuleSuffix(p); s != "" {
			names = append(names, strings.TrimSuffix(filepath.Base(p), s))
		}
	}
	return names, nil
}
