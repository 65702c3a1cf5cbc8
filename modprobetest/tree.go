package modprobetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gokmod/modprobe/internal/testmod"
)

// Module describes a module for WriteTree: a small but real ELF module
// file that the fake kernel (and kmod's tools) can read.
type Module struct {
	// Name is the module's name.
	Name string
	// Path is the file's path in the module directory; empty means
	// "kernel/NAME.ko". A .ko.gz, .ko.xz or .ko.zst suffix compresses the
	// file.
	Path string
	// Depends names the modules this one needs (its depends=); the fake
	// kernel refuses it until they are live.
	Depends []string
	// Params declares the module's parameters, each "name:type" as
	// parmtype= does ("numdummies:int"); the fake kernel checks int, uint
	// and bool values and ignores undeclared parameters, as Linux does.
	Params []string
	// Aliases are written to modules.alias.
	Aliases []string
	// Builtin makes the module part of the kernel image, as
	// modules.builtin lists it: a Loader finds it loaded, and it has no
	// file. A builtin module has no Depends, Params or Aliases, and no
	// module depends on it (modpost never records one).
	Builtin bool
	// SrcVersion, if set, is the module's srcversion= (modpost's digest
	// of its sources); the fake kernel shows it in
	// /sys/module/NAME/srcversion once the module is live.
	SrcVersion string
}

// WriteTree writes a module directory ROOT/lib/modules/RELEASE holding
// the modules, modules.dep (each line the full dependency closure, the
// nearest first, as depmod writes it), modules.alias and modules.builtin
// (the Builtin modules), and returns the directory. A Loader reads these
// text indexes when the binary ones are missing.
func WriteTree(root, release string, mods ...Module) (string, error) {
	dir := filepath.Join(root, "lib", "modules", release)
	byName := map[string]*Module{}
	for i := range mods {
		m := &mods[i]
		if m.Path == "" {
			m.Path = "kernel/" + m.Name + ".ko"
		}
		byName[m.Name] = m
	}
	var dep, alias, builtin strings.Builder
	for _, m := range mods {
		if m.Builtin {
			if len(m.Depends)+len(m.Params)+len(m.Aliases) > 0 {
				return "", fmt.Errorf("modprobetest: builtin module %s has dependencies, parameters or aliases", m.Name)
			}
			fmt.Fprintf(&builtin, "%s\n", m.Path)
			continue
		}
		closure, err := depClosure(byName, m.Name, map[string]bool{})
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&dep, "%s:", m.Path)
		for i := len(closure) - 1; i >= 0; i-- {
			fmt.Fprintf(&dep, " %s", byName[closure[i]].Path)
		}
		dep.WriteString("\n")
		for _, a := range m.Aliases {
			fmt.Fprintf(&alias, "alias %s %s\n", a, m.Name)
		}
		// Each module exports a symbol its dependents use, and its
		// aliases are in .modinfo too, so that depmod over the tree
		// (a layered Loader's, say) finds what modules.dep and
		// modules.alias say.
		tm := &testmod.Module{Name: m.Name, ModInfo: testmod.StandardModInfo(m.Name, testmod.DefaultVermagic(release), m.Depends...)}
		tm.Exports = []string{fakeSymbol(m.Name)}
		for _, d := range m.Depends {
			tm.Uses = append(tm.Uses, fakeSymbol(d))
		}
		for _, a := range m.Aliases {
			tm.ModInfo = append(tm.ModInfo, testmod.Alias(a))
		}
		for _, p := range m.Params {
			name, typ, _ := strings.Cut(p, ":")
			tm.ModInfo = append(tm.ModInfo, testmod.ParmType(name, typ))
		}
		if m.SrcVersion != "" {
			tm.ModInfo = append(tm.ModInfo, testmod.SrcVersion(m.SrcVersion))
		}
		img, err := tm.ELF()
		if err != nil {
			return "", err
		}
		c, ok := testmod.CompressionFromPath(m.Path)
		if !ok {
			return "", fmt.Errorf("modprobetest: %s: not a module file name", m.Path)
		}
		if img, err = testmod.Compress(img, c); err != nil {
			return "", err
		}
		path := filepath.Join(dir, m.Path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, img, 0o644); err != nil {
			return "", err
		}
	}
	for name, content := range map[string]string{"modules.dep": dep.String(), "modules.alias": alias.String(), "modules.builtin": builtin.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// fakeSymbol is the symbol a WriteTree module exports for its dependents.
func fakeSymbol(module string) string { return "modprobetest_" + module }

// depClosure returns the modules name needs, each after the ones it
// needs (load order), without name itself.
func depClosure(byName map[string]*Module, name string, seen map[string]bool) ([]string, error) {
	m := byName[name]
	var out []string
	for _, d := range m.Depends {
		if byName[d] == nil {
			return nil, fmt.Errorf("modprobetest: %s depends on unknown module %s", name, d)
		}
		if byName[d].Builtin {
			return nil, fmt.Errorf("modprobetest: %s depends on builtin module %s", name, d)
		}
		if seen[d] {
			continue
		}
		seen[d] = true
		sub, err := depClosure(byName, d, seen)
		if err != nil {
			return nil, err
		}
		out = append(out, sub...)
		out = append(out, d)
	}
	return out, nil
}
