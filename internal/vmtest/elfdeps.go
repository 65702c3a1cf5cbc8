package vmtest

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// libraryDirs are where ELFDependencies looks for a shared library in a
// Debian system: the multiarch directories of amd64 (the only
// architecture the VMs run) first, as Debian's dynamic loader does.
var libraryDirs = []string{
	"/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib",
}

// fdoDlopenNote is the type of the FDO ".note.dlopen" ELF note, whose
// descriptor is a JSON array of the libraries a program may dlopen
// (systemd's ELF dlopen metadata, which kmod 34 carries for liblzma and
// libzstd).
const fdoDlopenNote = 0x407c0c0a

// ELFDependencies returns what the executable exe (an absolute path in
// the system at root, such as "/usr/bin/kmod") needs to run in a system
// that holds nothing else: exe itself, its program interpreter (PT_INTERP)
// and, transitively, the shared libraries that each of them names in
// DT_NEEDED or lists in an FDO ".note.dlopen" note, looked up in root's
// library directories. The map goes from the path the running system sees
// to the file under root; a file missing from root is an error naming it.
func ELFDependencies(root, exe string) (map[string]string, error) {
	out := map[string]string{}
	queue := []string{exe}
	for len(queue) > 0 {
		guest := queue[0]
		queue = queue[1:]
		if _, ok := out[guest]; ok {
			continue
		}
		host, err := inRoot(root, guest)
		if err != nil {
			return nil, err
		}
		out[guest] = host
		needs, err := elfNeeds(host)
		if err != nil {
			return nil, err
		}
		if needs.interp != "" {
			queue = append(queue, needs.interp)
		}
		var runpath []string
		for _, d := range needs.runpath {
			runpath = append(runpath, strings.ReplaceAll(d, "$ORIGIN", path.Dir(guest)))
		}
		for _, alternatives := range needs.libs {
			lib, err := findLibrary(root, alternatives, runpath)
			if err != nil {
				return nil, fmt.Errorf("vmtest: %s needs %w", host, err)
			}
			queue = append(queue, lib)
		}
	}
	return out, nil
}

// inRoot returns the host file of the absolute path p of the system at
// root. A merged-/usr system may hold /lib64/x only as /usr/lib64/x when
// root lacks the top-level links, as an unpacked set of packages does.
func inRoot(root, p string) (string, error) {
	host := filepath.Join(root, filepath.FromSlash(p))
	_, err := os.Stat(host)
	if errors.Is(err, fs.ErrNotExist) {
		if alt := filepath.Join(root, "usr", filepath.FromSlash(p)); fileExists(alt) {
			return alt, nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("vmtest: %w", err)
	}
	return host, nil
}

// findLibrary returns the path in root of the first of the sonames
// found in the object's own search path (DT_RUNPATH or DT_RPATH), then
// in a library directory.
func findLibrary(root string, sonames, runpath []string) (string, error) {
	for _, name := range sonames {
		for _, dir := range append(runpath, libraryDirs...) {
			if p := path.Join(dir, name); fileExists(filepath.Join(root, filepath.FromSlash(p))) {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("library %q, which is in none of %v below %s", sonames, append(runpath, libraryDirs...), root)
}

func fileExists(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}

// elfDeps is what one ELF file asks for: its program interpreter and its
// libraries, each a list of alternative sonames.
type elfDeps struct {
	interp  string
	libs    [][]string
	runpath []string // DT_RUNPATH, or DT_RPATH without it
}

// elfNeeds reads the program interpreter, the DT_NEEDED libraries and the
// libraries of FDO dlopen notes of the ELF file name.
func elfNeeds(name string) (elfDeps, error) {
	var d elfDeps
	f, err := elf.Open(name)
	if err != nil {
		return d, fmt.Errorf("vmtest: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			// Bounded by the segment's size in a system file.
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return d, fmt.Errorf("vmtest: %s: %w", name, err)
			}
			d.interp = string(bytes.TrimRight(b, "\x00"))
		}
	}
	needed, err := f.ImportedLibraries()
	if err != nil {
		return d, fmt.Errorf("vmtest: %s: %w", name, err)
	}
	for _, lib := range needed {
		d.libs = append(d.libs, []string{lib})
	}
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		if vals, err := f.DynString(tag); err == nil && len(vals) > 0 {
			for _, v := range vals {
				d.runpath = append(d.runpath, strings.Split(v, ":")...)
			}
			break
		}
	}
	sec := f.Section(".note.dlopen")
	if sec == nil {
		return d, nil
	}
	notes, err := sec.Data()
	if err != nil {
		return d, fmt.Errorf("vmtest: %s: %w", name, err)
	}
	elfNotes(notes, f.ByteOrder, func(owner string, typ uint32, desc []byte) bool {
		if owner != "FDO" || typ != fdoDlopenNote {
			return true
		}
		var entries []struct {
			Soname []string `json:"soname"`
		}
		if err = json.Unmarshal(bytes.TrimRight(desc, "\x00"), &entries); err != nil {
			err = fmt.Errorf("vmtest: %s: dlopen note: %w", name, err)
			return false
		}
		for _, e := range entries {
			if len(e.Soname) > 0 {
				d.libs = append(d.libs, e.Soname)
			}
		}
		return true
	})
	return d, err
}

// elfNotes calls fn with the owner, type and descriptor of each note in
// data (a note section or segment), until fn returns false or a note
// overruns data.
func elfNotes(data []byte, order binary.ByteOrder, fn func(owner string, typ uint32, desc []byte) bool) {
	for len(data) >= 12 {
		namesz := int(order.Uint32(data))
		descsz := int(order.Uint32(data[4:]))
		typ := order.Uint32(data[8:])
		nameEnd := 12 + (namesz+3)&^3
		next := nameEnd + (descsz+3)&^3
		if namesz < 0 || descsz < 0 || nameEnd < 12 || next < nameEnd || next > len(data) {
			return
		}
		owner := string(bytes.TrimRight(data[12:12+namesz], "\x00"))
		if !fn(owner, typ, data[nameEnd:nameEnd+descsz]) {
			return
		}
		data = data[next:]
	}
}
