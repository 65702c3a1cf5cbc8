package vmtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// TestdataDir is where ModuleVariants puts its files in the guest.
const TestdataDir = "/testdata"

// ModuleVariants writes, into dir on the host, the variants of one module
// (path: a plain .ko of the kernel tree) that the guest tests load, and
// returns them keyed by guest path below TestdataDir:
//
//	NAME.ko.xz        xz as kbuild writes it (CRC32, 1 MiB dictionary)
//	NAME-crc64.ko.xz  xz with the xz tool's default CRC64 check
//	NAME.ko.zst       zstd
//	NAME.ko.gz        gzip
//	NAME-vermagic.ko  the module, unsigned, with another version magic
//	NAME-vermagic.ko.xz   the same, compressed (kmod's init_module path)
//	NAME-corrupt.ko   the module cut in half
//	NAME-truncated.ko.xz  the xz file cut in half
//
// The compressed files are made with the host's xz, zstd and gzip.
func ModuleVariants(ctx context.Context, path, name, dir string) (map[string]File, error) {
	// Not an input: a module of the Debian tree the suite unpacked.
	plain, err := os.ReadFile(path)
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
	compress := func(data []byte, tool string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, tool, args...)
		cmd.Stdin = bytes.NewReader(data)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("%s %v: %w: %s", tool, args, err, errb.String())
		}
		return out.Bytes(), nil
	}
	type variant struct {
		name string
		data []byte
		tool string
		args []string
	}
	for _, v := range []variant{
		{name + ".ko.xz", plain, "xz", []string{"--check=crc32", "--lzma2=dict=1MiB", "-c"}},
		{name + "-crc64.ko.xz", plain, "xz", []string{"--check=crc64", "-c"}},
		{name + ".ko.zst", plain, "zstd", []string{"-q", "-19", "-c"}},
		{name + ".ko.gz", plain, "gzip", []string{"-n", "-9", "-c"}},
		{name + "-vermagic.ko.xz", vermagic, "xz", []string{"--check=crc32", "--lzma2=dict=1MiB", "-c"}},
	} {
		data, err := compress(v.data, v.tool, v.args...)
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
	if err := put(name+"-vermagic.ko", vermagic); err != nil {
		return nil, err
	}
	if err := put(name+"-corrupt.ko", plain[:len(plain)/2]); err != nil {
		return nil, err
	}
	return files, nil
}

// sigMagic ends a signed module.
const sigMagic = "~Module signature appended~\n"

// unsigned returns a module without its appended signature: an edited
// module with a signature that no longer matches is refused
// (EKEYREJECTED) even when signatures are not enforced, while an unsigned
// one only taints the kernel.
func unsigned(mod []byte) []byte {
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
	out := bytes.Clone(unsigned(mod))
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
