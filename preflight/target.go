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
