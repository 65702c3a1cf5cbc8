package vmtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// TestdataDir is where ModuleVariants puts its files in the guest.
const TestdataDir = "/testdata"

// ModuleVariants writes, into dir on the host, the variants of one module
// (path: a module of the kernel tree, compressed or not) that the guest
// tests load, and returns them keyed by guest path below TestdataDir:
//
//	NAME.ko           the module as the tree holds it, uncompressed
//	NAME.ko.xz        xz as kbuild writes it (CRC32, 1 MiB dictionary)
//	NAME-crc64.ko.xz  xz with the xz tool's default CRC64 check
//	NAME.ko.zst       zstd
//	NAME.ko.gz        gzip
//	NAME-vermagic.ko  the module, unsigned, with another version magic
//	NAME-vermagic.ko.xz   the same, compressed (kmod's init_module path)
//	NAME-corrupt.ko   the module cut in half
//	NAME-truncated.ko.xz  the xz file cut in half
//
// The files are made with the host's xz, zstd and gzip.
func ModuleVariants(ctx context.Context, path, name, dir string) (map[string]File, error) {
	plain, err := ReadModule(ctx, path)
	if err != nil {
		return nil, err
	}
	vermagic, err := otherVermagic(plain)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	files := map[string]File{}
	put := func(guestName string, data []byte) error {
		host := filepath.Join(dir, guestName)
		if err := os.WriteFile(host, data, 0o644); err != nil {
			return err
		}
		files[TestdataDir+"/"+guestName] = HostFile(host)
		return nil
	}
	type variant struct {
		name string
		data []byte
		tool string
		args []string
	}
	for _, v := range []variant{
		{name + ".ko.xz", plain, "xz", kbuildXz},
		{name + "-crc64.ko.xz", plain, "xz", []string{"--check=crc64", "-c"}},
		{name + ".ko.zst", plain, "zstd", zstdArgs(plain)},
		{name + ".ko.gz", plain, "gzip", []string{"-n", "-9", "-c"}},
		{name + "-vermagic.ko.xz", vermagic, "xz", kbuildXz},
	} {
		data, err := filter(ctx, v.data, v.tool, v.args...)
		if err != nil {
			return nil, err
		}
		if err := put(v.name, data); err != nil {
			return nil, err
		}
		if v.name == name+".ko.xz" {
			if err := put(name+"-truncated.ko.xz", data[:len(data)/2]); err != nil {
				return nil, err
			}
		}
	}
	for guestName, data := range map[string][]byte{
		name + ".ko":          plain,
		name + "-vermagic.ko": vermagic,
		name + "-corrupt.ko":  plain[:len(plain)/2],
	} {
		if err := put(guestName, data); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// kbuildXz are the xz options kbuild compresses modules with
// (CONFIG_MODULE_COMPRESS_XZ): a CRC32 check, which the kernel's own
// decompressor needs, and a 1 MiB dictionary.
var kbuildXz = []string{"--check=crc32", "--lzma2=dict=1MiB", "-c"}

// zstdArgs are the zstd options that compress the module mod from
// standard input as kbuild compresses a module file: the frame states the
// content size, which kmod 34 needs to decompress it.
func zstdArgs(mod []byte) []string {
	return []string{"-q", "-19", "-c", "--stream-size=" + strconv.Itoa(len(mod))}
}

// filter runs the host tool with args, data on its standard input, and
// returns its standard output.
func filter(ctx context.Context, data []byte, tool string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Stdin = bytes.NewReader(data)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("vmtest: %s %v: %w: %s", tool, args, err, errb.String())
	}
	return out.Bytes(), nil
}

// ReadModule returns the ELF image of the module file path, decompressed
// by the host's xz, zstd or gzip as its suffix says.
func ReadModule(ctx context.Context, path string) ([]byte, error) {
	// Not an input: a module of the Debian tree the suite unpacked.
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.HasSuffix(path, ".ko.xz"):
		return filter(ctx, data, "xz", "-dc")
	case strings.HasSuffix(path, ".ko.zst"):
		return filter(ctx, data, "zstd", "-q", "-dc")
	case strings.HasSuffix(path, ".ko.gz"):
		return filter(ctx, data, "gzip", "-dc")
	}
	return data, nil
}

// CompressModule compresses the ELF image mod into the format of the
// module file suffix (".ko", ".ko.xz" as kbuild does, ".ko.zst",
// ".ko.gz") with the host's tools.
func CompressModule(ctx context.Context, mod []byte, suffix string) ([]byte, error) {
	switch suffix {
	case ".ko":
		return mod, nil
	case ".ko.xz":
		return filter(ctx, mod, "xz", kbuildXz...)
	case ".ko.zst":
		return filter(ctx, mod, "zstd", zstdArgs(mod)...)
	case ".ko.gz":
		return filter(ctx, mod, "gzip", "-n", "-9", "-c")
	}
	return nil, fmt.Errorf("vmtest: unknown module suffix %q", suffix)
}

// ModuleSuffix returns the module suffix of path (".ko", ".ko.xz", ...),
// or "" if it has none.
func ModuleSuffix(path string) string {
	i := strings.LastIndex(path, ".ko")
	if i < 0 {
		return ""
	}
	switch s := path[i:]; s {
	case ".ko", ".ko.xz", ".ko.zst", ".ko.gz":
		return s
	}
	return ""
}

// WeakdepModule returns the module file path (compressed or not) made to
// declare a weak dependency on dep, in the same format: its first
// "author=" modinfo entry becomes "weakdep=DEP", padded with NULs (which
// the kernel, kmod and gokmod skip between entries), and its signature is
// removed, since it no longer matches. Loading it taints the kernel as an
// unsigned module does. An author entry too short for the new one is an
// error.
func WeakdepModule(ctx context.Context, path, dep string) ([]byte, error) {
	mod, err := ReadModule(ctx, path)
	if err != nil {
		return nil, err
	}
	mod = bytes.Clone(Unsigned(mod))
	i := bytes.Index(mod, []byte("\x00author="))
	if i < 0 {
		return nil, fmt.Errorf("vmtest: %s: no author= modinfo entry", path)
	}
	i++
	n := bytes.IndexByte(mod[i:], 0)
	entry := "weakdep=" + dep
	if n < len(entry) {
		return nil, fmt.Errorf("vmtest: %s: the author entry %q is shorter than %q", path, mod[i:i+n], entry)
	}
	copy(mod[i:i+n], entry)
	clear(mod[i+len(entry) : i+n])
	return CompressModule(ctx, mod, ModuleSuffix(path))
}

// sigMagic ends a signed module.
const sigMagic = "~Module signature appended~\n"

// Unsigned returns a module without its appended signature: an edited
// module with a signature that no longer matches is refused
// (EKEYREJECTED) even when signatures are not enforced, while an unsigned
// one only taints the kernel.
func Unsigned(mod []byte) []byte {
	if !bytes.HasSuffix(mod, []byte(sigMagic)) {
		return mod
	}
	n := len(mod) - len(sigMagic)
	if n < 12 {
		return mod
	}
	// struct module_signature (12 bytes) ends with the big-endian length
	// of the signature, which precedes it.
	sigLen := int(mod[n-4])<<24 | int(mod[n-3])<<16 | int(mod[n-2])<<8 | int(mod[n-1])
	if sigLen > n-12 {
		return mod
	}
	return mod[:n-12-sigLen]
}

// otherVermagic returns an unsigned copy of a module whose vermagic=
// string differs from the kernel's where the kernel compares it.
func otherVermagic(mod []byte) ([]byte, error) {
	out := bytes.Clone(Unsigned(mod))
	i := bytes.Index(out, []byte("\x00vermagic="))
	if i < 0 {
		return nil, fmt.Errorf("no vermagic in module")
	}
	// With modversions the kernel compares the vermagic after its first
	// space (the release may differ), so change the first word after it.
	for j := i + len("\x00vermagic="); j+1 < len(out) && out[j] != 0; j++ {
		if out[j] == ' ' && out[j+1] != 0 && out[j+1] != 'X' {
			out[j+1] = 'X'
			return out, nil
		}
	}
	return nil, fmt.Errorf("no space in the vermagic")
}
