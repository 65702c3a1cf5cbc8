package preflight

import (
	"fmt"
	"strings"

	"github.com/gokmod/modprobe/internal/fileio"
)

// export is what Module.symvers says of a symbol beyond its CRC (which
// depmod reads): whether it is GPL-only and its namespace.
type export struct {
	gplOnly   bool
	namespace string
}

// readExports reads the symbols of a Module.symvers
// ("0xCRC\tSYMBOL\tMODULE\tEXPORT_SYMBOL[_GPL]\tNAMESPACE"), vmlinux's and
// the tree's modules'.
func readExports(path string) (map[string]export, error) {
	data, err := fileio.ReadInput(path, 256<<20)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTarget, err)
	}
	out := map[string]export{}
	for line := range strings.Lines(string(data)) {
		f := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(f) < 4 {
			continue
		}
		e := export{gplOnly: f[3] == "EXPORT_SYMBOL_GPL"}
		if len(f) > 4 {
			e.namespace = f[4]
		}
		out[f[1]] = e
	}
	return out, nil
}

// gplCompatible is the kernel's license_is_gpl_compatible: whether a
// module of this license may use GPL-only symbols.
func gplCompatible(license string) bool {
	switch license {
	case "GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL":
		return true
	}
	return false
}
