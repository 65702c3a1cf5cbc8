package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/modname"
)

// hasSpace reports whether s holds a byte C's isspace accepts.
func hasSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) {
			return true
		}
	}
	return false
}

// FuzzConfig loads arbitrary bytes as a modprobe.d file, in both
// dialects, and checks what Load keeps: module fields are normalized,
// positions are lines of the file, every message has text, and Load
// agrees with parsing the bytes directly.
func FuzzConfig(f *testing.F) {
	f.Add([]byte("options snd-pcsp index=-2\nsoftdep uhci-hcd pre: ehci-hcd\n"))
	f.Add([]byte("alias pci:v*d*sv*sd*bc0Csc03i20* ehci-hcd\nblacklist evbug\ninstall foo /bin/true\nremove foo /bin/false\n"))
	f.Add([]byte("softdep a pre: b c post: d pre: e\nweakdep m x\ty\ninclude /etc/x\nconfig y\nbogus line\n"))
	f.Add([]byte("options a\\\nb c\\d \\\n\n\tsoftdep  x  pre:  y\nalias a[-]-b c\nalias a]b c\nblacklist x\x00y\n\\"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "x.conf")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, dialect := range []Dialect{Latest, Kmod30} {
			fatalf := func(format string, args ...any) {
				t.Helper()
				t.Fatalf("dialect %d: "+format, append([]any{dialect}, args...)...)
			}
			var diags []Diag
			c := Load(Source{Paths: []string{dir}, Dialect: dialect}, func(d Diag) { diags = append(diags, d) })
			if c == nil {
				fatalf("Load returned nil")
			}
			if len(c.Files) != 1 || c.Files[0] != path {
				fatalf("Files = %q, want [%q]", c.Files, path)
			}
			for _, d := range diags {
				if d.Msg == "" {
					fatalf("diagnostic %+v has no message", d)
				}
			}

			lines := bytes.Count(data, []byte("\n")) + 1
			last := map[string]int{}
			if dialect == Kmod30 && len(c.Weakdeps) > 0 {
				fatalf("kmod 30 has no weakdep, but got %+v", c.Weakdeps)
			}
			checkPos := func(kind string, p Pos) {
				t.Helper()
				if p.File != path || p.Line < 1 || p.Line > lines || p.Line < last[kind] {
					fatalf("%s at %v: not a line of %s (%d lines, previous %s at line %d)", kind, p, path, lines, kind, last[kind])
				}
				last[kind] = p.Line
			}
			checkName := func(kind, name string) {
				t.Helper()
				if !modname.IsUnderscored(name) {
					fatalf("%s %q is not normalized", kind, name)
				}
				// Fields are split at spaces and tabs only, as strtok_r
				// does in libkmod.
				if name == "" || strings.ContainsAny(name, " \t\n\x00") {
					fatalf("%s %q is not one field", kind, name)
				}
			}
			for _, a := range c.Aliases {
				checkPos("alias", a.Pos)
				checkName("alias pattern", a.Pattern)
				checkName("alias module", a.Module)
			}
			for _, b := range c.Blacklist {
				checkPos("blacklist", b.Pos)
				checkName("blacklist module", b.Module)
			}
			for _, o := range c.Options {
				checkPos("options", o.Pos)
				checkName("options module", o.Module)
				if o.Options == "" || strings.ContainsAny(o.Options, "\t\n\x00") {
					fatalf("options %q of %q: empty or holding a tab, newline or NUL", o.Options, o.Module)
				}
			}
			for kind, cmds := range map[string][]Command{"install": c.Install, "remove": c.Remove} {
				for _, cmd := range cmds {
					checkPos(kind, cmd.Pos)
					checkName(kind+" module", cmd.Module)
					if cmd.Command == "" || strings.ContainsAny(cmd.Command, "\n\x00") {
						fatalf("%s command %q: empty or holding a newline or NUL", kind, cmd.Command)
					}
				}
			}
			for _, s := range c.Softdeps {
				checkPos("softdep", s.Pos)
				checkName("softdep module", s.Module)
				for _, n := range append(append([]string(nil), s.Pre...), s.Post...) {
					if n == "" || hasSpace(n) {
						fatalf("softdep %q: dependency %q is not one field", s.Module, n)
					}
				}
				_ = s.String()
			}
			for _, w := range c.Weakdeps {
				checkPos("weakdep", w.Pos)
				checkName("weakdep module", w.Module)
				for _, n := range w.Deps {
					if n == "" || hasSpace(n) {
						fatalf("weakdep %q: dependency %q is not one field", w.Module, n)
					}
				}
			}

			// Load must add nothing to parsing the file's bytes directly.
			direct := &Config{Files: []string{path}, dialect: dialect}
			var directDiags []Diag
			direct.parseFile(data, path, func(d Diag) { directDiags = append(directDiags, d) })
			if !reflect.DeepEqual(c, direct) {
				fatalf("Load gave %+v, parseFile %+v", c, direct)
			}
			if !reflect.DeepEqual(diags, directDiags) {
				fatalf("Load reported %+v, parseFile %+v", diags, directDiags)
			}
		}
	})
}

// FuzzCmdline parses arbitrary bytes as a kernel command line: every
// option must name a normalized module without whitespace.
func FuzzCmdline(f *testing.F) {
	f.Add([]byte(`BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet "parport.dyndbg=file drivers/parport/ieee1284_ops.c +mpf" modprobe.blacklist=a-b,c mod.p="x y" ivrs_acpihid[00:14.5]=AMD0020:0`))
	f.Add([]byte("a-b.c=1 \"x-y.z=1 2\" e.f \"g.h\" i.j=\"k l\" [a-.b=c a]-b.c=d\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &Config{}
		var diags []Diag
		c.ParseCmdline(data, "/proc/cmdline", func(d Diag) { diags = append(diags, d) })
		for _, d := range diags {
			if d.Msg == "" {
				t.Fatalf("diagnostic %+v has no message", d)
			}
		}
		for _, o := range c.Options {
			if !modname.IsUnderscored(o.Module) {
				t.Fatalf("option module %q is not normalized", o.Module)
			}
			if hasSpace(o.Module) || strings.IndexByte(o.Module, 0) >= 0 {
				t.Fatalf("option module %q holds whitespace or NUL", o.Module)
			}
			if o.Pos.File != "/proc/cmdline" || o.Pos.Line != 0 {
				t.Fatalf("option %+v has position %v", o, o.Pos)
			}
			if strings.IndexByte(o.Options, 0) >= 0 {
				t.Fatalf("option %q of %q holds a NUL", o.Options, o.Module)
			}
		}
		for _, b := range c.Blacklist {
			if strings.IndexByte(b.Module, 0) >= 0 {
				t.Fatalf("blacklist entry %q holds a NUL", b.Module)
			}
		}
		if len(c.Aliases)+len(c.Install)+len(c.Remove)+len(c.Softdeps)+len(c.Weakdeps)+len(c.Files) != 0 {
			t.Fatalf("the command line added more than options and blacklist entries: %+v", c)
		}
	})
}
