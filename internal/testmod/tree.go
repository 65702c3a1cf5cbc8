package testmod

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// TreeModule is one module file of a Tree.
type TreeModule struct {
	// RelPath is the file's path relative to the module directory, with
	// forward slashes, e.g. "kernel/drivers/net/dummy.ko" or
	// "kernel/fs/foo.ko.zst".
	RelPath string
	// Module is the module to write. If its Name is empty, the written
	// module uses ModName(RelPath); the caller's value is never modified.
	Module *Module
	// Compression compresses the file. None means "as RelPath's suffix
	// says" (Xz for ".ko.xz"); any other value must match the suffix.
	Compression Compression
}

// compression resolves the effective compression of tm.
func (tm TreeModule) compression() (Compression, error) {
	fromPath, ok := CompressionFromPath(tm.RelPath)
	if !ok {
		return None, fmt.Errorf("%q does not end in .ko, .ko.gz, .ko.xz or .ko.zst", tm.RelPath)
	}
	if tm.Compression == None {
		return fromPath, nil
	}
	suffix := tm.Compression.Suffix()
	if suffix == "" {
		return None, fmt.Errorf("%q: unknown compression %v", tm.RelPath, tm.Compression)
	}
	if strings.HasSuffix(tm.RelPath, suffix) {
		return tm.Compression, nil
	}
	return None, fmt.Errorf("%q does not end in %q as %v compression needs", tm.RelPath, tm.Compression.Suffix(), tm.Compression)
}

// Tree describes the module directory ROOT/lib/modules/RELEASE of one
// kernel release, as "make modules_install" leaves it before depmod runs.
type Tree struct {
	// Release is the kernel release (uname -r), e.g. "6.1.0-test".
	Release string
	// Modules are the module files.
	Modules []TreeModule
	// Order holds the lines of modules.order. nil means one line per
	// entry of Modules, in order, naming the uncompressed path
	// ("kernel/x/a.ko" for "kernel/x/a.ko.xz") as kbuild writes it.
	Order []string
	// OmitOrder leaves modules.order out.
	OmitOrder bool
	// Builtin holds the lines of modules.builtin, e.g.
	// "kernel/fs/ext4/ext4.ko". nil writes an empty file.
	Builtin []string
	// OmitBuiltin leaves modules.builtin out.
	OmitBuiltin bool
	// BuiltinModinfo holds the records of modules.builtin.modinfo, each
	// "modname.key=value", e.g. "ext4.alias=fs-ext4"; each is written
	// NUL-terminated. nil writes an empty file.
	BuiltinModinfo []string
	// OmitBuiltinModinfo leaves modules.builtin.modinfo out.
	OmitBuiltinModinfo bool
	// Files are extra files to write, keyed by path relative to the root
	// directory (not the module directory), e.g.
	// "etc/depmod.d/test.conf" or "etc/modprobe.d/test.conf".
	Files map[string][]byte
}

// ModuleDir returns ROOT/lib/modules/RELEASE, the directory depmod -b ROOT
// RELEASE indexes.
func ModuleDir(root, release string) string {
	return filepath.Join(root, "lib", "modules", release)
}

// ModName returns the module name kmod derives from a module path: the
// base name up to its first '.', with every '-' replaced by '_'
// ("kernel/x/mod-dash.ko.xz" gives "mod_dash").
func ModName(p string) string {
	base := path.Base(filepath.ToSlash(p))
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

// UncompressedPath returns p with a compression suffix (".gz", ".xz",
// ".zst") after ".ko" removed, as modules.order and depmod's internal
// bookkeeping name modules.
func UncompressedPath(p string) string {
	for _, s := range []string{Gzip.Suffix(), Xz.Suffix(), Zstd.Suffix()} {
		if strings.HasSuffix(p, s) {
			return strings.TrimSuffix(p, s) + ".ko"
		}
	}
	return p
}

// Write writes the tree below root, creating directories as needed, and
// returns the module directory ROOT/lib/modules/RELEASE. It writes every
// module file, modules.order, modules.builtin and modules.builtin.modinfo
// (unless omitted: depmod warns about each missing one), and Files.
// Existing files are overwritten.
func (t *Tree) Write(root string) (moduleDir string, err error) {
	if t.Release == "" || strings.ContainsAny(t.Release, "/\x00") || t.Release == "." || t.Release == ".." {
		return "", fmt.Errorf("testmod: invalid release %q", t.Release)
	}
	if root == "" {
		return "", errors.New("testmod: empty root directory")
	}
	dir := ModuleDir(root, t.Release)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("testmod: %w", err)
	}

	seen := map[string]bool{}
	for i, tm := range t.Modules {
		if err := writeModule(dir, tm, seen); err != nil {
			return "", fmt.Errorf("testmod: module %d: %w", i, err)
		}
	}

	if !t.OmitOrder {
		order := t.Order
		if order == nil {
			order = make([]string, 0, len(t.Modules))
			for _, tm := range t.Modules {
				order = append(order, UncompressedPath(tm.RelPath))
			}
		}
		if err := writeFile(filepath.Join(dir, "modules.order"), joinLines(order)); err != nil {
			return "", err
		}
	}
	if !t.OmitBuiltin {
		if err := writeFile(filepath.Join(dir, "modules.builtin"), joinLines(t.Builtin)); err != nil {
			return "", err
		}
	}
	if !t.OmitBuiltinModinfo {
		var b bytes.Buffer
		for _, rec := range t.BuiltinModinfo {
			b.WriteString(rec)
			b.WriteByte(0)
		}
		if err := writeFile(filepath.Join(dir, "modules.builtin.modinfo"), b.Bytes()); err != nil {
			return "", err
		}
	}

	names := make([]string, 0, len(t.Files))
	for name := range t.Files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !filepath.IsLocal(filepath.FromSlash(name)) {
			return "", fmt.Errorf("testmod: extra file %q is not a local path", name)
		}
		if err := writeFile(filepath.Join(root, filepath.FromSlash(name)), t.Files[name]); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// writeModule builds, compresses and writes one module below dir.
func writeModule(dir string, tm TreeModule, seen map[string]bool) error {
	rel := tm.RelPath
	if rel == "" || !filepath.IsLocal(filepath.FromSlash(rel)) || path.Clean(rel) != rel {
		return fmt.Errorf("invalid module path %q (want a clean relative path)", rel)
	}
	if seen[rel] {
		return fmt.Errorf("duplicate module path %q", rel)
	}
	seen[rel] = true
	if tm.Module == nil {
		return fmt.Errorf("%s: nil Module", rel)
	}
	comp, err := tm.compression()
	if err != nil {
		return err
	}
	m := *tm.Module
	if m.Name == "" {
		m.Name = ModName(rel)
	}
	img, err := m.ELF()
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	data, err := Compress(img, comp)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	return writeFile(filepath.Join(dir, filepath.FromSlash(rel)), data)
}

func joinLines(lines []string) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func writeFile(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fmt.Errorf("testmod: %w", err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		return fmt.Errorf("testmod: %w", err)
	}
	return nil
}
