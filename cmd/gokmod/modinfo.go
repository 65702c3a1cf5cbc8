package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/cli"
	"github.com/gokmod/modprobe/internal/elfmod"
	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/getopt"
	"github.com/gokmod/modprobe/internal/kernel"
	"github.com/gokmod/modprobe/internal/kmodlog"
	"github.com/gokmod/modprobe/internal/modfile"
	"github.com/gokmod/modprobe/internal/modname"
)

// modinfoCmd holds one run of modinfo.
type modinfoCmd struct {
	*simpleTool
	field     string // print only this key's values; "" prints all
	separator string // "\n", or "\x00" with -0
	moddir    string
	buf       modfile.Buffer // what the files read in place are read into
}

func runModinfo(e *env, argv0 string, args []string) (status int) {
	m := &modinfoCmd{simpleTool: newSimpleTool(e, "modinfo"), separator: "\n"}
	defer m.finish(&status)
	defer m.buf.Release()
	if !m.checkCompat() {
		return 1
	}
	p := getopt.New(argv0, args, "adlpn0mF:k:b:Vh", []getopt.Option{
		{Name: "author", Val: 'a'},
		{Name: "description", Val: 'd'},
		{Name: "license", Val: 'l'},
		{Name: "parameters", Val: 'p'},
		{Name: "filename", Val: 'n'},
		{Name: "null", Val: '0'},
		{Name: "modname", Val: 'm'},
		{Name: "field", HasArg: getopt.RequiredArgument, Val: 'F'},
		{Name: "set-version", HasArg: getopt.RequiredArgument, Val: 'k'},
		{Name: "basedir", HasArg: getopt.RequiredArgument, Val: 'b'},
		{Name: "version", Val: 'V'},
		{Name: "help", Val: 'h'},
	}, e.Stderr).WithEnv(e.Getenv)
	var byName, rootSet, versionSet bool
	var root, version string
	for c, arg := range p.Options() {
		switch c {
		case 'a':
			m.field = "author"
		case 'd':
			m.field = "description"
		case 'l':
			m.field = "license"
		case 'p':
			m.field = "parm"
		case 'n':
			m.field = "filename"
		case '0':
			m.separator = "\x00"
		case 'm':
			byName = true
		case 'F':
			m.field = arg
		case 'k':
			version, versionSet = arg, true
		case 'b':
			root, rootSet = arg, true
		case 'h':
			m.help()
			return 0
		case 'V':
			fmt.Fprint(m.out, versionText(m.compat))
			return 0
		default:
			return m.otherOption(rune(c))
		}
	}
	operands := p.Operands()
	if len(operands) == 0 {
		m.log.printf(logErr, "missing module or filename.\n")
		return 1
	}
	opts := modprobe.Options{ConfigPaths: []string{}, Logger: slog.New(slogHandler{m.log}), Compat: m.compat}
	if rootSet || versionSet {
		if !versionSet {
			rel, err := releaseOf(e)
			if err != nil {
				m.log.printf(logErr, "uname() failed: %v\n", err)
				return 1
			}
			version = rel
		}
		opts.ModuleDir = root + "/lib/modules/" + version
		if len(opts.ModuleDir) > 4095 {
			opts.ModuleDir = opts.ModuleDir[:4095]
		}
	}
	l, err := e.OpenLoader(opts)
	if err != nil {
		if cli.OwnError(err) {
			m.log.printf(logErr, "%v\n", err)
		}
		m.log.printf(logErr, "kmod_new() failed!\n")
		return 1
	}
	m.moddir = l.ModuleDir()
	if len(operands) > 1 {
		e.WorkGrowsWithTree()
	}
	resolve := func(arg string) *operand { return m.resolve(l, arg, byName) }
	ahead := m.startPrefetch(e.LookupContext(), operands, resolve, func(o *operand) []string { return o.files(byName) })
	defer ahead.stop()
	failed := false
	for _, arg := range operands {
		if e.Interrupted() != nil {
			return 1 // a signal: no further module
		}
		o := ahead.next()
		if o == nil {
			o = resolve(arg)
		}
		var ok bool
		switch {
		case o.file:
			ok = m.info(o, o.mods[0])
		case byName:
			ok = m.byName(o, arg)
		default:
			ok = m.byAlias(o, arg)
		}
		if !ok {
			failed = true
		}
	}
	if failed {
		return 1
	}
	return 0
}

// releaseOf is uname -r, or the fake kernel's release in tests.
func releaseOf(e *env) (string, error) {
	if e.Kernel != nil {
		b, err := fileio.ReadFile(filepath.Join(e.Kernel.Proc, "sys/kernel/osrelease"), 256)
		return strings.TrimSpace(string(b)), err
	}
	return kernel.Release()
}

// isModuleFilename is modinfo's test for a path argument: a regular file
// named as a module, compressed or not (gokmod reads .ko.gz as a kmod
// built with zlib does; Debian's kmods are built without it).
func isModuleFilename(name string) bool {
	st, err := os.Stat(name)
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	return strings.HasSuffix(name, ".ko") || strings.HasSuffix(name, ".ko.xz") || strings.HasSuffix(name, ".ko.zst") || strings.HasSuffix(name, ".ko.gz")
}

func (m *modinfoCmd) byName(o *operand, name string) bool {
	if m.env.CancelledBy(o.err) {
		return false
	}
	if mod, ok := namedModule(o.mods, o.err, name); ok {
		return m.info(o, mod)
	}
	m.log.printf(logErr, "Module name %s not found.\n", name)
	return false
}

// namedModule is the module modinfo -m prints for name, from the
// lookup's answer.
func namedModule(mods []modprobe.Module, err error, name string) (modprobe.Module, bool) {
	want := modname.Normalize(name)
	for _, mod := range mods {
		if err == nil && mod.Alias == "" && mod.Name == want {
			return mod, true
		}
	}
	return modprobe.Module{}, false
}

// operandPath is the path modinfo prints for a file operand: as given
// (kmod 30), or made absolute but not cleaned (kmod 34).
func (m *modinfoCmd) operandPath(arg string) string {
	if m.compat == modprobe.CompatKmod30 {
		return arg
	}
	path, _ := absoluteCwd(arg) // it exists: so does the working directory
	return path
}

// resolve resolves one operand as modinfo treats it: a module name
// (-m), a module file's path, or an alias.
func (m *modinfoCmd) resolve(l *modprobe.Loader, arg string, byName bool) *operand {
	if !byName && isModuleFilename(arg) {
		return &operand{arg: arg, file: true, mods: []modprobe.Module{{Name: modname.FromPath(arg), Path: m.operandPath(arg)}}}
	}
	mods, err := l.Lookup(m.env.LookupContext(), arg)
	return &operand{arg: arg, mods: mods, err: err}
}

// files returns the module files whose entries modinfo prints for a
// resolved operand, in order, as run prints them: what the prefetcher
// reads.
func (o *operand) files(byName bool) []string {
	mods := o.mods
	if o.err != nil {
		return nil
	}
	if byName && !o.file {
		mods = nil
		if mod, ok := namedModule(o.mods, o.err, o.arg); ok {
			mods = []modprobe.Module{mod}
		}
	}
	var paths []string
	for _, mod := range mods {
		if !mod.Builtin && mod.Path != "" {
			paths = append(paths, mod.Path)
		}
	}
	return paths
}

func (m *modinfoCmd) byAlias(o *operand, alias string) bool {
	if m.env.CancelledBy(o.err) {
		return false
	}
	if err := o.err; err != nil {
		if errors.Is(err, modprobe.ErrNotFound) {
			m.log.printf(logErr, "Module %s not found.\n", alias)
		} else {
			m.log.printf(logErr, "Module alias %s not found.\n", alias)
		}
		return false
	}
	ok := true
	for _, mod := range o.mods {
		if !m.info(o, mod) {
			ok = false
		}
	}
	return ok
}

// printf writes to stdout.
func (m *modinfoCmd) printf(format string, args ...any) { fmt.Fprintf(m.out, format, args...) }

// info is modinfo_do: one module's fields. o, the operand that named
// the module, holds its file when read ahead.
func (m *modinfoCmd) info(o *operand, mod modprobe.Module) bool {
	filename := mod.Path
	builtin := filename == ""
	if builtin {
		switch m.field {
		case "":
			m.printf("%-16s%s%s", "name:", mod.Name, m.separator)
		case "name":
			m.printf("%s%s", mod.Name, m.separator)
		}
		filename = "(builtin)"
	}
	switch m.field {
	case "filename":
		m.printf("%s%s", filename, m.separator)
		return true
	case "":
		m.printf("%-16s%s%s", "filename:", filename, m.separator)
	}
	info, err := m.moduleInfo(o, mod)
	if err != nil {
		if builtin && errors.Is(err, os.ErrNotExist) {
			return true // an old kernel without modules.builtin.modinfo
		}
		if builtin && errors.Is(err, syscall.ENOSYS) && m.compat != modprobe.CompatKmod30 {
			return true // kmod 34: a builtin module without entries has none
		}
		m.log.printf(logErr, "could not get modinfo from '%s': %s\n", mod.Name, kmodlog.Strerror(elfErrno(m.compat, err)))
		return false
	}
	if m.field == "parm" {
		for _, p := range mergeParams(m.log, info) {
			switch {
			case p.desc == nil:
				m.printf("%s: (%s)%s", p.name, *p.typ, m.separator)
			case p.typ != nil:
				m.printf("%s:%s (%s)%s", p.name, *p.desc, *p.typ, m.separator)
			default:
				m.printf("%s:%s%s", p.name, *p.desc, m.separator)
			}
		}
		return true
	}
	for _, kv := range info {
		if m.field != "" {
			if kv.Key == m.field {
				m.printf("%s%s", kv.Value, m.separator)
			}
			continue
		}
		if kv.Key == "parm" || kv.Key == "parmtype" {
			continue
		}
		if m.separator == "\x00" {
			m.printf("%s=%s%s", kv.Key, kv.Value, m.separator)
			continue
		}
		// kmod 30's printf("%-*s") takes the negative width of a long
		// key as a positive one; kmod 34 pads no further than column 16.
		pad := 15 - len(kv.Key)
		if pad < 0 {
			pad = -pad
			if m.compat != modprobe.CompatKmod30 {
				pad = 0
			}
		}
		m.printf("%s:%s%s%s", kv.Key, strings.Repeat(" ", pad), kv.Value, m.separator)
	}
	if m.field != "" {
		return true
	}
	for _, p := range mergeParams(m.log, info) {
		switch {
		case p.desc == nil:
			m.printf("%-16s%s:%s%s", "parm:", p.name, *p.typ, m.separator)
		case p.typ != nil:
			m.printf("%-16s%s:%s (%s)%s", "parm:", p.name, *p.desc, *p.typ, m.separator)
		default:
			m.printf("%-16s%s:%s%s", "parm:", p.name, *p.desc, m.separator)
		}
	}
	return true
}

// param is a module parameter from parm= and parmtype= entries.
type param struct {
	name      string
	desc, typ *string
}

// mergeParams merges parm= and parmtype= entries by name, as modinfo does:
// the list is built by prepending, so it comes out in reverse order of
// first appearance. A value without ':' is reported and skipped. The work
// is linear in the entries: a map finds a name's param, and the list is
// appended to and reversed once instead of prepended to (kmod's list
// search and prepending make 100,000 parameters quadratic).
func mergeParams(log *toolLog, info []elfmod.KeyValue) []*param {
	var list []*param
	byName := map[string]*param{}
	for _, kv := range info {
		if kv.Key != "parm" && kv.Key != "parmtype" {
			continue
		}
		name, rest, ok := strings.Cut(kv.Value, ":")
		if !ok {
			log.printf(logErr, "Found invalid \"%s=%s\": missing ':'\n", kv.Key, kv.Value)
			continue
		}
		p := byName[name]
		if p == nil {
			p = &param{name: name}
			byName[name] = p
			list = append(list, p)
		}
		v := rest
		if kv.Key == "parm" {
			p.desc = &v
		} else {
			p.typ = &v
		}
	}
	slices.Reverse(list)
	return list
}

// moduleInfo is kmod_module_get_info: the .modinfo entries of the module
// file and its signature fields, or a builtin module's entries from
// modules.builtin.modinfo.
func (m *modinfoCmd) moduleInfo(o *operand, mod modprobe.Module) ([]elfmod.KeyValue, error) {
	if mod.Builtin || mod.Path == "" {
		if !mod.Builtin {
			return nil, syscall.ENOENT
		}
		return builtinModinfo(filepath.Join(m.moddir, "modules.builtin.modinfo"), mod.Name)
	}
	if f := o.take(mod.Path); f != nil {
		return f.info, f.err
	}
	return readModinfo(mod.Path, &m.buf)
}

// builtinModinfo is kmod_builtin_get_modinfo: the entries of the first
// run of "name.key=value" records for the module in
// modules.builtin.modinfo, without the "name." prefix. A module that is
// not there is ENOSYS, as in libkmod.
func builtinModinfo(path, name string) ([]elfmod.KeyValue, error) {
	data, err := fileio.ReadRegular(path, 64<<20)
	if err != nil {
		return nil, err
	}
	var info []elfmod.KeyValue
	group := ""
	for len(data) > 0 {
		rec := data
		if i := bytes.IndexByte(data, 0); i >= 0 {
			rec, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		mod, kv, ok := strings.Cut(string(rec), ".")
		if !ok {
			break // libkmod stops at a record without a module prefix
		}
		if mod != group {
			if info != nil {
				break
			}
			group = mod
		}
		if mod == name {
			k, v, _ := strings.Cut(kv, "=")
			info = append(info, elfmod.KeyValue{Key: k, Value: v})
		}
	}
	if info == nil {
		return nil, syscall.ENOSYS
	}
	return info, nil
}

func (m *modinfoCmd) help() {
	m.printf("Usage:\n\t%s [options] <modulename|filename> [args]\nOptions:\n", "modinfo")
	for _, l := range [][2]string{
		{"-a, --author", "Print only 'author'"},
		{"-d, --description", "Print only 'description'"},
		{"-l, --license", "Print only 'license'"},
		{"-p, --parameters", "Print only 'parm'"},
		{"-n, --filename", "Print only 'filename'"},
		{"-0, --null", "Use \\0 instead of \\n"},
		{"-m, --modname", "Handle argument as module name instead of alias or filename"},
		{"-F, --field=FIELD", "Print only provided FIELD"},
		{"-k, --set-version=VERSION", "Use VERSION instead of `uname -r`"},
		{"-b, --basedir=DIR", "Use DIR as filesystem root for /lib/modules"},
		{"-V, --version", "Show version"},
		{"-h, --help", "Show this help"},
	} {
		m.printf("\t%-28s%s\n", l[0], l[1])
	}
}
