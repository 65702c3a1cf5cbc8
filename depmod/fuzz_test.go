package depmod

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/config"
	"github.com/gokmod/modprobe/internal/index"
)

// logged is a message a fuzzed run logged.
type logged struct {
	level Level
	msg   string
}

// fuzzRun returns a run for the release 6.1.0-fuzz whose messages are
// appended to msgs.
func fuzzRun(msgs *[]logged, prefix byte) *run {
	return &run{
		ctx:      context.Background(),
		release:  "6.1.0-fuzz",
		opts:     Options{SymPrefix: prefix, Log: func(l Level, s string) { *msgs = append(*msgs, logged{l, s}) }},
		byName:   map[string]*mod{},
		byUncrel: map[string]*mod{},
		symbols:  map[string]*symbol{},
	}
}

// writeFuzzFile writes data to dir/name and returns the path.
func writeFuzzFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// oneField reports whether s is a token of a depmod.d line: not empty,
// and without the separators (space, tab), the line end or a NUL.
func oneField(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\n\x00")
}

// FuzzDepmodConfig reads arbitrary bytes as a depmod.d file, named
// directly and found in its directory, and checks that both give the same
// configuration and messages; that every entry is well formed (a search
// of kind path has a one-token path, the others none; an override is
// "SUBDIR/MODNAME"; externals and excludes are tokens); that the default
// search is there when the file gives none; and that every message names
// the file.
func FuzzDepmodConfig(f *testing.F) {
	f.Add([]byte("search updates extra built-in external\noverride e1000e * kernel/drivers/net\nexternal 6.1.* /opt/ext\nexclude .git build\n"))
	f.Add([]byte("# comment\nsearch\\\n updates\noverride a 5\\.10 x\noverride b\nexternal 6.1.0-fuzz\ninclude /etc/x\nmake_map_files\nbogus\n"))
	f.Add([]byte("override m ( x\nexternal [ /a\noverride m ^6\\.1\\.0-fuzz$ sub\nexternal .* \"/b c\"\n\tsearch\t\tkernel\x00tail\nsearch a\\"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := writeFuzzFile(t, dir, "x.conf", data)

		var msgs, dirMsgs []logged
		r := fuzzRun(&msgs, 0)
		r.loadConfig([]string{path})
		rd := fuzzRun(&dirMsgs, 0)
		rd.loadConfig([]string{dir, filepath.Join(dir, "missing")})
		if !reflect.DeepEqual(r.cfg, rd.cfg) || !reflect.DeepEqual(msgs, dirMsgs) {
			t.Fatalf("the file gave %+v and %+v; its directory %+v and %+v", r.cfg, msgs, rd.cfg, dirMsgs)
		}

		c := r.cfg
		if len(c.searches) == 0 {
			t.Fatal("no search entry, not even the default")
		}
		fields := len(bytes.FieldsFunc(data, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' })) + 1
		if n := len(c.searches) + len(c.overrides) + len(c.externals) + len(c.excludes); n > fields {
			t.Fatalf("%d entries from %d tokens: %+v", n, fields, c)
		}
		for _, s := range c.searches {
			switch s.kind {
			case searchPath:
				if !oneField(s.path) || s.path == "built-in" || s.path == "external" {
					t.Fatalf("search path %q", s.path)
				}
			case searchBuiltin, searchExternal:
				if s.path != "" {
					t.Fatalf("search of kind %d has the path %q", s.kind, s.path)
				}
			default:
				t.Fatalf("search of kind %d", s.kind)
			}
		}
		for _, o := range c.overrides {
			if !oneField(o) || len(o) < 3 || !strings.Contains(o[1:len(o)-1], "/") {
				t.Fatalf("override %q is not SUBDIR/MODNAME", o)
			}
		}
		for _, e := range append(slices.Clone(c.externals), c.excludes...) {
			if !oneField(e) {
				t.Fatalf("external or exclude %q is not one token", e)
			}
		}
		for _, m := range msgs {
			if m.msg == "" || (m.level != LevelErr && m.level != LevelInfo) || !strings.Contains(m.msg, path) {
				t.Fatalf("message %+v: want an error or info naming %s", m, path)
			}
		}
	})
}

// strtoull16 is C's strtoull(s, &end, 16): leading space, a sign, an
// optional 0x before a hex digit, then hex digits; ULLONG_MAX on
// overflow; no digits leave end at s. It returns the value and what
// follows the number.
func strtoull16(s string) (uint64, string) {
	i := 0
	for i < len(s) && strings.IndexByte(" \t\n\v\f\r", s[i]) >= 0 {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	digit := func(j int) (uint64, bool) {
		if j >= len(s) {
			return 0, false
		}
		switch c := s[j] | 0x20; {
		case s[j] >= '0' && s[j] <= '9':
			return uint64(s[j] - '0'), true
		case c >= 'a' && c <= 'f':
			return uint64(c-'a') + 10, true
		}
		return 0, false
	}
	if i+2 < len(s) && s[i] == '0' && s[i+1]|0x20 == 'x' {
		if _, ok := digit(i + 2); ok {
			i += 2
		}
	}
	var v uint64
	over := false
	start := i
	for {
		d, ok := digit(i)
		if !ok {
			break
		}
		if v > (math.MaxUint64-d)/16 {
			over = true
		}
		v = v*16 + d
		i++
	}
	switch {
	case i == start:
		return 0, s
	case over:
		return math.MaxUint64, s[i:]
	case neg:
		return -v, s[i:]
	}
	return v, s[i:]
}

// symvModel holds the symbols a model of the reader expects, by name.
type symvModel map[string]uint64

// addFake adds the symbols depmod_add_fake_syms adds.
func (m symvModel) addFake(prefix byte) {
	m["__this_module"] = 0
	m["_GLOBAL_OFFSET_TABLE_"] = 0
	toc := "TOC."
	if toc[0] == prefix {
		toc = toc[1:]
	}
	if _, ok := m[toc]; !ok {
		m["TOC."] = 0
	}
}

// checkSymbols compares the symbols of r with the model.
func checkSymbols(t *testing.T, r *run, want symvModel) {
	t.Helper()
	got := symvModel{}
	for name, s := range r.symbols {
		if s.name != name || s.owner != nil {
			t.Fatalf("symbol %q: %+v", name, s)
		}
		got[name] = s.crc
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("symbols %v, want %v", got, want)
	}
}

// lineModel splits data into the lines of fgets with a buffer of size
// bytes when no line is too long for it; ok is false otherwise.
func lineModel(data []byte, size int) (lines []string, ok bool) {
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if len(l) > size-1 {
			return nil, false
		}
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines, true
}

// cut0 cuts s at its first NUL.
func cut0(s string) string {
	s, _, _ = strings.Cut(s, "\x00")
	return s
}

// FuzzSymvers reads arbitrary bytes as Module.symvers and checks the
// kernel symbols against a model of depmod_load_symvers: the vmlinux lines
// (split at spaces and tabs as strtok does) give their symbol, without
// the architecture prefix, with the CRC strtoull reads, the last line of a
// name winning; an invalid CRC is reported with its line; then the fake
// symbols.
func FuzzSymvers(f *testing.F) {
	f.Add([]byte("0x12345678\tprintk\tvmlinux\tEXPORT_SYMBOL\n0x9abcdef0\tjbd2_x\tfs/jbd2/jbd2\tEXPORT_SYMBOL_GPL\n"), byte(0))
	f.Add([]byte("0xzz\tbad\tvmlinux\tEXPORT_SYMBOL\n-1 neg vmlinux E\n 0x1 TOC. vmlinux x\n0x2\t_x\tvmlinux\n12345678901234567890 big vmlinux x\n0x123456789abcdef01z over vmlinux x\n"), byte('_'))
	f.Add([]byte("0x1 a vmlinux\n0x2 a vmlinux\nx y\n0x\tz\tvmlinux\n+0X3\tw\tvmlinux\x00\n"), byte('.'))
	f.Fuzz(func(t *testing.T, data []byte, prefix byte) {
		var msgs []logged
		r := fuzzRun(&msgs, prefix)
		path := writeFuzzFile(t, t.TempDir(), "Module.symvers", data)
		if err := r.loadSymvers(path); err != nil {
			t.Fatal(err)
		}
		lines, ok := lineModel(data, 10240)
		if !ok {
			return
		}
		want := symvModel{}
		var wantMsgs []logged
		for n, line := range lines {
			f := strings.FieldsFunc(cut0(line), func(r rune) bool { return r == ' ' || r == '\t' })
			if len(f) < 3 || f[2] != "vmlinux" {
				continue
			}
			crc, rest := strtoull16(f[0])
			if rest != "" {
				wantMsgs = append(wantMsgs, logged{LevelErr, fmt.Sprintf("%s:%d Invalid symbol version %s: Success", path, n+1, f[0])})
				continue
			}
			name := f[1]
			if name[0] == prefix {
				name = name[1:]
			}
			want[name] = crc
		}
		want.addFake(prefix)
		checkSymbols(t, r, want)
		if !reflect.DeepEqual(msgs, wantMsgs) {
			t.Fatalf("messages %+v, want %+v", msgs, wantMsgs)
		}
	})
}

// FuzzSystemMap reads arbitrary bytes as System.map and checks the kernel
// symbols against a model of depmod_load_system_map: the third field (all
// after the second space) of each line, without one architecture prefix
// byte, names a kernel symbol when it starts with __ksymtab_; a line with
// fewer than two spaces is reported.
func FuzzSystemMap(f *testing.F) {
	f.Add([]byte("ffffffff81000000 T _text\nffffffff82000000 r __ksymtab_printk\nffffffff82000010 r __ksymtab_gpl_kmalloc\n"), byte(0))
	f.Add([]byte("nospace\none space\n0 r ___ksymtab_x\n0 r __ksymtab_a b\n0  __ksymtab_\n0 r __ksymtab_TOC.\x00z\n"), byte('_'))
	f.Fuzz(func(t *testing.T, data []byte, prefix byte) {
		var msgs []logged
		r := fuzzRun(&msgs, prefix)
		path := writeFuzzFile(t, t.TempDir(), "System.map", data)
		if err := r.loadSystemMap(path); err != nil {
			t.Fatal(err)
		}
		lines, ok := lineModel(data, 10240)
		if !ok {
			return
		}
		want := symvModel{}
		var wantMsgs []logged
		for n, line := range lines {
			s := cut0(line)
			f := strings.SplitN(s, " ", 3)
			if len(f) < 3 {
				wantMsgs = append(wantMsgs, logged{LevelErr, fmt.Sprintf("%s:%d: invalid line: %s", path, n+1, s)})
				continue
			}
			p := f[2]
			if p != "" && p[0] == prefix {
				p = p[1:]
			}
			if name, ok := strings.CutPrefix(p, "__ksymtab_"); ok {
				want[strings.TrimSuffix(name, "\n")] = 0
			}
		}
		want.addFake(prefix)
		checkSymbols(t, r, want)
		if !reflect.DeepEqual(msgs, wantMsgs) {
			t.Fatalf("messages %+v, want %+v", msgs, wantMsgs)
		}
	})
}

// orderModules are the modules FuzzModulesOrder sorts, in their initial
// order.
var orderModules = []string{"kernel/a.ko", "kernel/drivers/b.ko", "extra/c.ko", "d.ko", "kernel/e-f.ko"}

// FuzzModulesOrder reads arbitrary bytes as modules.order and checks
// depmod_modules_sort: when a line (as fgets with PATH_MAX reads it) lacks
// its newline, the file is reported and the order kept; otherwise the
// modules the file names come first, ordered by the last line naming
// them (kmod 30) or the first (kmod 34), and the others follow in their
// order; idx is the position.
func FuzzModulesOrder(f *testing.F) {
	f.Add([]byte("kernel/drivers/b.ko\nd.ko\nkernel/a.ko\n"))
	f.Add([]byte("d.ko\nunknown.ko\n\nd.ko\nextra/c.ko\x00junk\nkernel/e-f.ko"))
	f.Add([]byte("kernel/a.ko\n" + strings.Repeat("x", 4095) + "\n"))
	f.Add([]byte("d.ko\nkernel/a.ko\nd.ko\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkModulesOrder(t, data, config.Kmod30)
		checkModulesOrder(t, data, config.Latest)
	})
}

// checkModulesOrder checks the order r.sort gives orderModules for the
// modules.order data, following the kmod release compat.
func checkModulesOrder(t *testing.T, data []byte, compat config.Dialect) {
	t.Helper()
	var msgs []logged
	r := fuzzRun(&msgs, 0)
	r.opts.Compat = compat
	r.dirname = t.TempDir()
	writeFuzzFile(t, r.dirname, "modules.order", data)
	for i, p := range orderModules {
		m := &mod{uncrelpath: p, idx: i}
		r.modules = append(r.modules, m)
		r.byUncrel[p] = m
	}
	r.sort()

	got := make([]string, len(r.modules))
	for i, m := range r.modules {
		if m.idx != i {
			t.Fatalf("module %s at %d has idx %d", m.uncrelpath, i, m.idx)
		}
		got[i] = m.uncrelpath
	}
	lines := strings.SplitAfter(string(data), "\n")
	corrupt := !strings.HasSuffix(string(data), "\n") && len(data) > 0
	for _, l := range lines {
		if len(strings.TrimSuffix(l, "\n")) >= pathMax-1 {
			corrupt = true
		}
	}
	if corrupt {
		if !slices.Equal(got, orderModules) || len(msgs) != 1 || msgs[0].level != LevelErr {
			t.Fatalf("corrupt file: order %q, messages %+v; want the order kept and one error", got, msgs)
		}
		return
	}
	if len(msgs) != 0 {
		t.Fatalf("messages %+v", msgs)
	}
	last := map[string]int{}
	for i, l := range lines {
		name := cut0(strings.TrimSuffix(l, "\n"))
		if _, seen := last[name]; seen && compat != config.Kmod30 {
			continue // kmod 34: the first line naming a module
		}
		last[name] = i
	}
	want := slices.Clone(orderModules)
	slices.SortStableFunc(want, func(a, b string) int {
		ia, oka := last[a]
		ib, okb := last[b]
		switch {
		case oka && okb:
			return ia - ib
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
	if !slices.Equal(got, want) {
		t.Fatalf("compat %d: order %q, want %q", compat, got, want)
	}
}

// FuzzModulesBuiltin reads arbitrary bytes as modules.builtin and checks
// the modules.builtin.bin depmod writes: it must read back as an index
// whose keys are module names with empty values, the same keys the
// index package's own reader of modules.builtin (the fallback a Loader
// uses) finds, when no line is longer than depmod's line buffer.
func FuzzModulesBuiltin(f *testing.F) {
	f.Add([]byte("kernel/fs/ext4/ext4.ko\nkernel/drivers/tty/serial/8250/8250.ko\nkernel/a-b.ko\n"))
	f.Add([]byte("\n/abs.ko\n1x.ko\nkernel/\nx\x00y.ko\nk/\x80.ko\nlast"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var msgs []logged
		r := fuzzRun(&msgs, 0)
		r.dirname = t.TempDir()
		writeFuzzFile(t, r.dirname, "modules.builtin", data)
		var buf bytes.Buffer
		if err := r.writeBuiltinBin(&buf); err != nil {
			t.Fatalf("writeBuiltinBin: %v", err)
		}
		x, err := index.New(buf.Bytes())
		if err != nil {
			t.Fatalf("the written modules.builtin.bin does not read back: %v", err)
		}
		keys := map[string]bool{}
		x.Walk(func(key string, v index.Value) {
			if strings.ContainsAny(key, "-./\x00") || v.Value != "" || v.Priority != 0 {
				t.Fatalf("entry %q→%q (%d) is not a builtin module name", key, v.Value, v.Priority)
			}
			keys[key] = true
		})
		if _, ok := lineModel(data, pathMax); !ok {
			return
		}
		b, _, err := index.BuildBuiltin(bytes.NewReader(data), "modules.builtin")
		if err != nil {
			t.Fatal(err)
		}
		y, err := b.Index()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		y.Walk(func(key string, _ index.Value) { want[key] = true })
		if !reflect.DeepEqual(keys, want) {
			t.Fatalf("depmod wrote the keys %v, the index package reads %v", keys, want)
		}
	})
}
