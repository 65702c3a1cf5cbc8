package depmod

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gokmod/modprobe/internal/cscan"
	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/index"
	"github.com/gokmod/modprobe/internal/modname"
)

// outputFile is one index file and how to build it; bin files are not
// part of a dry run.
type outputFile struct {
	name  string
	bin   bool
	build func(w *bytes.Buffer) error
}

func (r *run) files() []outputFile {
	files := []outputFile{
		{"modules.dep", false, r.writeDeps},
		{"modules.dep.bin", true, r.writeDepsBin},
		{"modules.alias", false, r.writeAliases},
		{"modules.alias.bin", true, r.writeAliasesBin},
		{"modules.softdep", false, r.writeSoftdeps},
		{"modules.weakdep", false, r.writeWeakdeps},
		{"modules.symbols", false, r.writeSymbols},
		{"modules.symbols.bin", true, r.writeSymbolsBin},
		{"modules.builtin.bin", true, r.writeBuiltinBin},
		{"modules.builtin.alias.bin", true, r.writeBuiltinAliasBin},
		{"modules.devname", false, r.writeDevname},
	}
	if r.kmod30() {
		files = slices.DeleteFunc(files, func(f outputFile) bool { return f.name == "modules.weakdep" })
	}
	return files
}

// output is depmod_output: each file is written to a temporary name and
// renamed over the old one, so that a modprobe running meanwhile reads
// either the old index or the new one; with DryRun the text files go to
// it one after the other.
func (r *run) output() error {
	if r.opts.DryRun != nil {
		var buf bytes.Buffer
		for _, f := range r.files() {
			if f.bin {
				continue
			}
			buf.Reset()
			if err := f.build(&buf); err != nil {
				return err
			}
			if _, err := r.opts.DryRun.Write(buf.Bytes()); err != nil {
				return err
			}
		}
		return nil
	}
	dir := r.outdir
	if r.opts.OutputDir != "" {
		dir = r.opts.OutputDir
	}
	if !r.kmod30() && r.opts.OutputDir == "" {
		// kmod 34 creates the directory it writes into (for -o).
		if err := fileio.MkdirP(dir, 0o755); err != nil {
			// kmod prints %m, the errno of the last call that failed:
			// a stat's on the way up, which gokmod shows too, or when
			// the directory itself is a file, whichever call failed
			// before (a missing modules.order...), which gokmod does
			// not try to guess: it names the reason.
			var me *fileio.MkdirError
			shown := error(err)
			if errors.As(err, &me) && me.Shown != 0 {
				shown = me.Shown
			}
			r.critf("could not create directory %s: %s", dir, strerror(shown))
			return err
		}
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		if err == nil {
			err = fmt.Errorf("not a directory")
		}
		r.critf("could not open directory %s: %s", dir, strerror(err))
		return err
	}
	stamp := time.Now()
	var buf bytes.Buffer
	for _, f := range r.files() {
		buf.Reset()
		if err := f.build(&buf); err != nil {
			r.errorf("Could not write index '%s': %s", f.name, strerror(err))
			return err
		}
		tmp := filepath.Join(dir, f.name+"."+strconv.Itoa(os.Getpid())+"."+strconv.Itoa(stamp.Nanosecond()/1000)+"."+strconv.FormatInt(stamp.Unix(), 10))
		if err := writeNew(tmp, buf.Bytes()); err != nil {
			r.errorf("openat(%s, %s, %o, %o): %s", dir, filepath.Base(tmp), 0o301, 0o644, strerror(err))
			continue
		}
		if err := os.Rename(tmp, filepath.Join(dir, f.name)); err != nil {
			r.critf("renameat(%s, %s, %s, %s): %s", dir, filepath.Base(tmp), dir, f.name, strerror(err))
			_ = os.Remove(tmp)
			return err
		}
	}
	return nil
}

// writeNew creates path (which must not exist) with data, mode 0644.
func writeNew(path string, data []byte) error {
	// O_EXCL: an existing file, a FIFO included, is EEXIST, never opened.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// compressedPath is mod_get_compressed_path: the path relative to the
// module directory, or the full path of a module outside it.
func (m *mod) compressedPath() string {
	if m.relpath != "" && m.layer == 0 {
		return m.relpath
	}
	return m.path
}

// allDeps is mod_get_all_sorted_dependencies: every module m needs,
// directly or not, once, in topological order.
func (m *mod) allDeps() []*mod {
	var out []*mod
	var fill func(x *mod)
	fill = func(x *mod) {
		for _, d := range x.deps {
			if d.mark == m {
				continue
			}
			d.mark = m // seen for m
			out = append(out, d)
			fill(d)
		}
	}
	fill(m)
	slices.SortStableFunc(out, func(a, b *mod) int { return a.depSortIdx - b.depSortIdx })
	return out
}

// depLine is a module's modules.dep line, without the newline.
func (m *mod) depLine() string {
	if m.line != "" {
		return m.line
	}
	var b strings.Builder
	b.WriteString(m.compressedPath())
	b.WriteByte(':')
	for _, d := range m.allDeps() {
		b.WriteByte(' ')
		b.WriteString(d.compressedPath())
	}
	m.line = b.String()
	return m.line
}

func (r *run) writeDeps(w *bytes.Buffer) error {
	for _, m := range r.modules {
		w.WriteString(m.depLine())
		w.WriteByte('\n')
	}
	return nil
}

// writeLine writes the strings and a newline to w (without fmt's
// formatting, on the lines written once per alias and symbol).
func writeLine(w *bytes.Buffer, parts ...string) {
	for _, p := range parts {
		w.WriteString(p)
	}
	w.WriteByte('\n')
}

// dups tracks index entries for -w's duplicate warnings.
type dups map[string]bool

// seen reports whether key already holds value, recording it.
func (d dups) seen(key, value string) bool {
	k := key + "\x00" + value
	if d[k] {
		return true
	}
	d[k] = true
	return false
}

// finish writes an index built with b.
func finish(w *bytes.Buffer, b *index.Builder) error {
	data, err := b.Bytes()
	if err != nil {
		return err
	}
	w.Write(data)
	return nil
}

func (r *run) writeDepsBin(w *bytes.Buffer) error {
	b := &index.Builder{}
	d := dups{}
	for _, m := range r.modules {
		line := m.depLine()
		if r.opts.WarnDups && d.seen(m.name, line) {
			r.warnf("duplicate module deps:\n%s", line)
		}
		if err := b.Add(m.name, line, uint32(m.idx)); err != nil {
			r.errorf("%s: %v", m.path, err)
		}
	}
	return finish(w, b)
}

// infos calls fn with the value of each .modinfo entry of m called key.
func (m *mod) infos(key string, fn func(value string)) {
	for _, kv := range m.info {
		if kv.Key == key {
			fn(kv.Value)
		}
	}
}

func (r *run) writeAliases(w *bytes.Buffer) error {
	w.WriteString("# Aliases extracted from modules themselves.\n")
	for _, m := range r.modules {
		m.infos("alias", func(v string) { writeLine(w, "alias ", v, " ", m.name) })
	}
	return nil
}

func (r *run) writeAliasesBin(w *bytes.Buffer) error {
	b := &index.Builder{}
	d := dups{}
	for _, m := range r.modules {
		m.infos("alias", func(v string) {
			alias, err := modname.Alias(v)
			if err != nil {
				r.warnf("Unmatched bracket in %s", v)
				return
			}
			if r.opts.WarnDups && d.seen(alias, m.name) {
				r.warnf("duplicate module alias:\n%s %s", alias, m.name)
			}
			if err := b.Add(alias, m.name, uint32(m.idx)); err != nil {
				r.errorf("%s: %v", m.path, err)
			}
		})
	}
	return finish(w, b)
}

func (r *run) writeSoftdeps(w *bytes.Buffer) error {
	w.WriteString("# Soft dependencies extracted from modules themselves.\n")
	for _, m := range r.modules {
		m.infos("softdep", func(v string) { writeLine(w, "softdep ", m.name, " ", v) })
	}
	return nil
}

func (r *run) writeWeakdeps(w *bytes.Buffer) error {
	w.WriteString("# Weak dependencies extracted from modules themselves.\n")
	for _, m := range r.modules {
		m.infos("weakdep", func(v string) { writeLine(w, "weakdep ", m.name, " ", v) })
	}
	return nil
}

// ownedSymbols returns the symbols that modules own, in the iteration
// order of kmod's 2048-bucket symbol table.
func (r *run) ownedSymbols() []*symbol {
	if r.owned != nil {
		return r.owned
	}
	out := []*symbol{}
	for _, s := range r.symbols {
		if s.owner != nil {
			out = append(out, s)
		}
	}
	hashOrder(out, func(s *symbol) string { return s.name }, 2048)
	r.owned = out
	return out
}

func (r *run) writeSymbols(w *bytes.Buffer) error {
	w.WriteString("# Aliases for symbols, used by symbol_request().\n")
	for _, s := range r.ownedSymbols() {
		writeLine(w, "alias symbol:", s.name, " ", s.owner.name)
	}
	return nil
}

func (r *run) writeSymbolsBin(w *bytes.Buffer) error {
	b := &index.Builder{}
	d := dups{}
	for _, s := range r.ownedSymbols() {
		key := "symbol:" + s.name
		if r.opts.WarnDups && d.seen(key, s.owner.name) {
			r.warnf("duplicate module syms:\n%s %s", key, s.owner.name)
		}
		if err := b.Add(key, s.owner.name, uint32(s.owner.idx)); err != nil {
			r.errorf("%s: %v", s.owner.path, err)
		}
	}
	return finish(w, b)
}

// readTreeFile reads a file of the module directory as depmod's dfdopen
// does, warning when it cannot.
func (r *run) readTreeFile(name string) ([]byte, bool) {
	if r.opts.Layers != nil {
		return r.readLayerFile(name)
	}
	if _, err := os.Stat(r.dirname); err != nil {
		r.warnf("could not open directory %s: %s", r.dirname, strerror(err))
		return nil, false
	}
	data, err := readText(filepath.Join(r.dirname, name))
	if err != nil {
		r.warnf("could not open %s at %s: %s", name, r.dirname, strerror(err))
		return nil, false
	}
	return data, true
}

func (r *run) writeBuiltinBin(w *bytes.Buffer) error {
	data, ok := r.readTreeFile("modules.builtin")
	if !ok {
		return nil
	}
	b := &index.Builder{}
	for _, line := range fgetsLines(data) {
		s := string(line)
		if !isAlpha(s[0]) {
			r.errorf("Invalid modules.builtin line: %s", s)
			continue
		}
		if err := b.Add(modname.FromPath(strings.TrimSuffix(cscan.CString(s), "\n")), "", 0); err != nil {
			r.errorf("modules.builtin: %v", err)
		}
	}
	return finish(w, b)
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func (r *run) writeBuiltinAliasBin(w *bytes.Buffer) error {
	data, ok := r.readTreeFile("modules.builtin.modinfo")
	if !ok {
		return nil
	}
	b, bad, err := index.BuildBuiltinAlias(bytes.NewReader(data), filepath.Join(r.dirname, "modules.builtin.modinfo"))
	if err != nil {
		return err
	}
	for _, e := range bad {
		if pe, ok := e.(*index.ParseError); ok && pe.Value != "" {
			r.warnf("Unmatched bracket in %s", pe.Value)
			continue
		}
		r.warnf("%v", e)
	}
	return finish(w, b)
}

func (r *run) writeDevname(w *bytes.Buffer) error {
	empty := true
	for _, m := range r.modules {
		var devname string
		haveName := false
		var typ byte
		var major, minor uint64
		for _, kv := range m.info {
			if kv.Key != "alias" {
				continue
			}
			v := kv.Value
			if rest, ok := strings.CutPrefix(v, "devname:"); ok {
				devname, haveName = rest, true
			} else if maj, min, ok := scanMajorMinor(v, "char-major-"); ok {
				typ, major, minor = 'c', maj, min
			} else if maj, min, ok := scanMajorMinor(v, "block-major-"); ok {
				typ, major, minor = 'b', maj, min
			}
			if typ != 0 && haveName {
				break
			}
		}
		if !haveName {
			continue
		}
		if typ == 0 {
			r.errorf("Module '%s' has devname (%s) but lacks major and minor information. Ignoring.", m.name, devname)
			continue
		}
		if empty {
			w.WriteString("# Device nodes to trigger on-demand module loading.\n")
			empty = false
		}
		fmt.Fprintf(w, "%s %s %c%d:%d\n", m.name, devname, typ, major, minor)
	}
	return nil
}

// scanMajorMinor is sscanf(v, PREFIX "%u-%u") == 2.
func scanMajorMinor(v, prefix string) (major, minor uint64, ok bool) {
	rest, ok := strings.CutPrefix(v, prefix)
	if !ok {
		return 0, 0, false
	}
	maj, rest, ok := cscan.Uint(rest)
	if !ok || !strings.HasPrefix(rest, "-") {
		return 0, 0, false
	}
	mnr, _, ok := cscan.Uint(rest[1:])
	return uint64(maj), uint64(mnr), ok
}
