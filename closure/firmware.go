package closure

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"

	"github.com/gokmod/modprobe/internal/fileio"
)

// DefaultFirmwareDirs returns the kernel's firmware search path for
// release under root ("" or "/" for the running system), in the kernel's
// order: /lib/firmware/updates/RELEASE, /lib/firmware/updates,
// /lib/firmware/RELEASE, /lib/firmware. A directory given on the kernel
// command line (firmware_class.path=) comes before them; pass it in
// Options.FirmwareDirs.
func DefaultFirmwareDirs(root, release string) []string {
	base := filepath.Join(root, "/lib/firmware")
	return []string{
		filepath.Join(base, "updates", release),
		filepath.Join(base, "updates"),
		filepath.Join(base, release),
		base,
	}
}

// maxConfigSize bounds the kernel configuration file read for the
// firmware loader's compression options (Debian's is about 300 KiB).
const maxConfigSize = 8 << 20

// KernelFirmwareSuffixes returns the compressed forms of a firmware file
// the kernel built with the configuration at configPath looks for after
// the plain one, in its order: ".zst" with CONFIG_FW_LOADER_COMPRESS_ZSTD,
// then ".xz" with CONFIG_FW_LOADER_COMPRESS_XZ. Debian 12's 6.1 kernels
// read only .xz, Debian 13's both. ok is false when the file cannot be
// read.
func KernelFirmwareSuffixes(configPath string) (suffixes []string, ok bool) {
	data, err := fileio.ReadRegular(configPath, maxConfigSize)
	if err != nil {
		return nil, false
	}
	set := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxConfigSize)
	for sc.Scan() {
		switch strings.TrimSpace(sc.Text()) {
		case "CONFIG_FW_LOADER_COMPRESS_ZSTD=y":
			set[".zst"] = true
		case "CONFIG_FW_LOADER_COMPRESS_XZ=y":
			set[".xz"] = true
		}
	}
	for _, s := range []string{".zst", ".xz"} {
		if set[s] {
			suffixes = append(suffixes, s)
		}
	}
	return suffixes, true
}

// validFirmwareName reports whether name can be looked up below a
// firmware directory: relative, and without ".." components, which the
// kernel's loader would follow out of it (a module's firmware= entries
// are the module author's text, and a hostile one must not pull a host
// file into an image).
func validFirmwareName(name string) bool {
	if name == "" || strings.HasPrefix(name, "/") || strings.IndexByte(name, 0) >= 0 {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return false
		}
	}
	return true
}

// findFirmware returns the file the kernel would read for firmware name:
// the plain name in each directory in turn, then each compressed form in
// each directory (the kernel's order); "" when there is none. A file is
// a regular file, possibly reached through symbolic links, as the
// kernel's loader opens it.
func findFirmware(dirs, suffixes []string, name string) string {
	for _, suffix := range append([]string{""}, suffixes...) {
		for _, dir := range dirs {
			p := filepath.Join(dir, name+suffix)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				return p
			}
		}
	}
	return ""
}
