package preflight

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gokmod/modprobe/depmod"
	"github.com/gokmod/modprobe/internal/elfmod"
	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/modname"
)

// Target is the kernel the modules are to load on, given by its module
// tree.
type Target struct {
	// BaseDir is the root the tree is under (depmod's -b); "" is "/".
	BaseDir string
	// ModuleDirectory is the directory under BaseDir holding a
	// directory per release; "" is "lib/modules" (a Debian 13 root
	// reaches usr/lib/modules through its lib link).
	ModuleDirectory string
	// Release is the target kernel's release: the module directory's
	// name. Required.
	Release string
	// Symvers is the target's Module.symvers, or "": the kernel's
	// exports and their CRCs.
	Symvers string
	// SystemMap is a System.map naming the kernel's exports; "" means
	// BaseDir/boot/System.map-Release when it exists. Symvers wins.
	SystemMap string
}

// dir is the target's module directory.
func (t Target) dir() string {
	root := t.BaseDir
	if root == "" {
		root = "/"
	}
	return depmod.ModuleDir(root, t.ModuleDirectory, t.Release)
}

// bootFile is BaseDir/boot/NAME-Release, or "" when there is none.
func (t Target) bootFile(name string) string {
	p := filepath.Join(t.BaseDir, "/boot", name+"-"+t.Release)
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	return p
}

// kernelFacts is what the target's own modules and files say of its
// kernel.
type kernelFacts struct {
	vermagic     string // "" when unknown
	structModule uint64 // size of struct module; 0 when unknown
	checksStruct bool   // the kernel checks it before anything else (6.4 on)
	forceLoad    bool   // CONFIG_MODULE_FORCE_LOAD=y
	configKnown  bool
	builtin      map[string]bool // modules.builtin, by module name
}

// targetModules lists the module files of the target's tree (the
// directories depmod skips, build and source, left out), sorted.
func targetModules(dir string) ([]string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", dir, ErrTarget, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s: %w: not a directory", dir, ErrTarget)
	}
	var out []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != dir && (d.Name() == "build" || d.Name() == "source") {
			return fs.SkipDir
		}
		if d.Type().IsRegular() && depmod.IsModuleFile(d.Name()) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", dir, ErrTarget, err)
	}
	return out, nil
}

// readFacts learns the kernel's vermagic and struct module size from
// the first of the target's modules that reads as one, its
// CONFIG_MODULE_FORCE_LOAD from boot/config-RELEASE and its built-in
// modules from modules.builtin.
func (t Target) readFacts(files []string, maxSize int64) (kernelFacts, error) {
	f := kernelFacts{builtin: map[string]bool{}, checksStruct: releaseAtLeast(t.Release, 6, 4)}
	for _, p := range files {
		img, err := readImage(p, maxSize)
		if err != nil {
			continue
		}
		e, err := elfmod.Parse(img)
		if err != nil {
			continue
		}
		size, ok := e.SectionSize(".gnu.linkonce.this_module")
		magic := modinfoValue(modinfoOf(e), "vermagic")
		if !ok || magic == "" {
			continue
		}
		f.vermagic, f.structModule = magic, size
		break
	}
	if f.vermagic == "" {
		return f, fmt.Errorf("%s: %w: no module with a vermagic and a struct module to learn the kernel's from", t.dir(), ErrTarget)
	}
	if p := t.bootFile("config"); p != "" {
		data, err := fileio.ReadInput(p, 16<<20)
		if err == nil {
			f.configKnown = true
			f.forceLoad = bytes.Contains(data, []byte("\nCONFIG_MODULE_FORCE_LOAD=y\n"))
		}
	}
	if data, err := fileio.ReadInput(filepath.Join(t.dir(), "modules.builtin"), 64<<20); err == nil {
		for line := range strings.Lines(string(data)) {
			if line = strings.TrimSpace(line); line != "" {
				f.builtin[modname.FromPath(line)] = true
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return f, fmt.Errorf("%w: %w", ErrTarget, err)
	}
	return f, nil
}

// modinfoValue is the first value of key in info, "" if none.
func modinfoValue(info []depmod.KeyValue, key string) string {
	for _, kv := range info {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

// modinfoOf is a module's .modinfo as depmod.Resolved holds it.
func modinfoOf(e *elfmod.Module) []depmod.KeyValue {
	info, _ := e.Modinfo()
	out := make([]depmod.KeyValue, len(info))
	for i, kv := range info {
		out[i] = depmod.KeyValue(kv)
	}
	return out
}

// symbolSources sets where depmod reads the kernel's symbols from:
// Module.symvers, else a System.map that names exports (the given one or
// BaseDir/boot/System.map-Release). It returns what is missing.
func (t Target) symbolSources(dopts *depmod.Options) ([]string, error) {
	var missing []string
	switch {
	case t.Symvers != "":
		dopts.Symvers = t.Symvers
	case t.SystemMap != "":
		dopts.SystemMap = t.SystemMap
	default:
		dopts.SystemMap = t.bootFile("System.map")
	}
	if dopts.Symvers == "" {
		missing = append(missing, "no Module.symvers: the CRCs of kernel symbols come from the target's own modules' __versions; kernel symbols none of them imports are unchecked")
	}
	if dopts.SystemMap != "" {
		ok, err := holdsExports(dopts.SystemMap)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTarget, err)
		}
		if !ok {
			missing = append(missing, dopts.SystemMap+" names no exported symbol (Debian ships a placeholder): ignored")
			dopts.SystemMap = ""
		}
	}
	if dopts.Symvers == "" && dopts.SystemMap == "" {
		missing = append(missing, "no System.map: which symbols the kernel exports is unknown; imports no module provides are unchecked")
	}
	return missing, nil
}

// kernelCRCs returns the CRCs of the kernel's symbols as the target's own
// modules record them in __versions: those depmod read (the candidates
// that are the target's own files among them) and those a candidate
// replaces.
func kernelCRCs(resolved []depmod.Resolved, byName map[string]*candidate, own map[string]bool, replaced []string, maxSize int64) map[string]uint64 {
	crcs := map[string]uint64{}
	for _, r := range resolved {
		if c := byName[r.Name]; c != nil && !own[c.path] {
			continue
		}
		for _, imp := range r.Imports {
			if imp.Owner == "" && (imp.CRC != 0 || imp.Name == "module_layout") {
				crcs[imp.Name] = imp.CRC
			}
		}
	}
	for _, p := range replaced {
		for _, s := range versionsOf(p, maxSize) {
			if _, ok := crcs[s.Name]; !ok {
				crcs[s.Name] = s.CRC
			}
		}
	}
	return crcs
}

// holdsExports reports whether the System.map at path names an exported
// symbol (a __ksymtab_ one), as depmod -F reads them.
func holdsExports(path string) (bool, error) {
	data, err := fileio.ReadInput(path, 256<<20)
	if err != nil {
		return false, err
	}
	return bytes.Contains(data, []byte(" __ksymtab_")), nil
}

// releaseAtLeast reports whether the kernel release (6.12.118+deb13-amd64)
// is major.minor or later; a release that does not start with two numbers
// counts as later.
func releaseAtLeast(release string, major, minor int) bool {
	var ma, mi int
	if n, _ := fmt.Sscanf(release, "%d.%d", &ma, &mi); n != 2 {
		return true
	}
	return ma > major || ma == major && mi >= minor
}
