package vmtest

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
	}
}
