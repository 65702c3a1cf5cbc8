package config

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func load(t *testing.T, files map[string]string, paths ...string) (*Config, []Diag) {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var abs []string
	for _, p := range paths {
		abs = append(abs, filepath.Join(root, p))
	}
	var diags []Diag
	c := Load(Source{ModuleDir: filepath.Join(root, "moddir"), Paths: abs}, func(d Diag) { diags = append(diags, d) })
	return c, diags
}

func TestLogicalLines(t *testing.T) {
	var got []string
	logicalLines([]byte("a \\\nb\nc\\d\n\\\n\\\ne\nf\x00g\nlast\\"), false, func(line []byte, n int) {
		got = append(got, string(line)+"@"+string(rune('0'+n)))
	})
	want := []string{"a b@2", "cd@3", "e@6", "f@7", "last@8"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDirectives(t *testing.T) {
	c, diags := load(t, map[string]string{"d/a.conf": `# comment
alias my-alias real-mod
alias net-pf-[1-3] pf-mod
options snd-hda  model=a	b=c
install foo-bar /bin/echo $CMDLINE_OPTS
remove foo-bar /bin/true
blacklist bad-mod
softdep sd-mod pre: a-b post: c
weakdep wd-mod x y
  # not a comment
alias onlyone
options nothing
include /etc/x.conf
unknown directive
blacklist x]
`}, "d")
	if got := c.Aliases; len(got) != 2 || got[0].Pattern != "my_alias" || got[0].Module != "real_mod" || got[1].Pattern != "net_pf_[1-3]" {
		t.Errorf("aliases = %+v", got)
	}
	if got := c.Options; len(got) != 1 || got[0].Module != "snd_hda" || got[0].Options != " model=a b=c" {
		t.Errorf("options = %+v", got)
	}
	if got := c.Install; len(got) != 1 || got[0].Module != "foo_bar" || got[0].Command != "/bin/echo $CMDLINE_OPTS" {
		t.Errorf("install = %+v", got)
	}
	if got := c.Softdeps; len(got) != 1 || !slices.Equal(got[0].Pre, []string{"a-b"}) || !slices.Equal(got[0].Post, []string{"c"}) {
		t.Errorf("softdeps = %+v", got)
	}
	if got := c.Weakdeps; len(got) != 1 || !slices.Equal(got[0].Deps, []string{"x", "y"}) {
		t.Errorf("weakdeps = %+v", got)
	}
	var msgs []string
	for _, d := range diags {
		msgs = append(msgs, strings.TrimPrefix(d.Msg, filepath.Dir(c.Files[0])+"/"))
	}
	want := []string{
		"a.conf line 10: ignoring bad line starting with '#'",
		"a.conf line 11: ignoring bad line starting with 'alias'",
		"a.conf line 12: ignoring bad line starting with 'options'",
		"a.conf: command include is deprecated and not parsed anymore",
		"a.conf line 14: ignoring bad line starting with 'unknown'",
		"a.conf line 15: ignoring bad line starting with 'blacklist'",
	}
	if !slices.Equal(msgs, want) {
		t.Errorf("diags:\n%q\nwant\n%q", msgs, want)
	}
}

func TestSoftdepParsing(t *testing.T) {
	for _, tc := range []struct {
		line      string
		pre, post []string
		shown     string
	}{
		{"pre: a b post: c", []string{"a", "b"}, []string{"c"}, "pre: a bpost: c"},
		{"x pre: a", []string{"a"}, nil, "pre: a"},
		{"gcm", nil, nil, ""},
		{" pre: a", nil, nil, ""}, // a leading blank hides the keyword
		{"pre:\ta  b\t", []string{"a", "b"}, nil, "pre: a b"},
		{"pre: a post: b pre: c", []string{"a", "c"}, []string{"b"}, "pre: a b cpost: b"},
		{"post:", nil, nil, ""},
	} {
		sd := parseSoftdep("m", tc.line, Pos{})
		if !slices.Equal(sd.Pre, tc.pre) || !slices.Equal(sd.Post, tc.post) || sd.String() != tc.shown {
			t.Errorf("%q: pre %q post %q shown %q; want %q %q %q", tc.line, sd.Pre, sd.Post, sd.String(), tc.pre, tc.post, tc.shown)
		}
	}
}

func TestFilePrecedence(t *testing.T) {
	c, diags := load(t, map[string]string{
		"c1/10-a.conf":           "alias from c1-10 x\n",
		"c1/zz.conf":             "alias from c1-zz x\n",
		"c2/05-b.conf":           "alias from c2-05 x\n",
		"c2/10-a.conf":           "alias from c2-10 x\n",
		"c2/notes.txt":           "alias from txt x\n",
		"c2/.hidden.conf":        "alias from hidden x\n",
		"c2/dir.conf/x":          "",
		"moddir/modules.softdep": "softdep from pre: modules.softdep\n",
		"single/file.conf":       "alias from single x\n",
	}, "c1", "c2", "missing", "single/file.conf")
	// Each alias line names its file as the module: c2/05-b.conf sorts
	// first, c2/10-a.conf loses to c1/10-a.conf, and the missing path,
	// the .txt and the hidden file add nothing.
	var order []string
	for _, a := range c.Aliases {
		order = append(order, a.Module)
	}
	if want := []string{"c2_05", "c1_10", "single", "c1_zz"}; !slices.Equal(order, want) {
		t.Errorf("alias order = %q, want %q", order, want)
	}
	var files []string
	for _, f := range c.Files {
		files = append(files, filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f))
	}
	want := []string{"c2/05-b.conf", "c1/10-a.conf", "single/file.conf", "moddir/modules.softdep", "c1/zz.conf"}
	if !slices.Equal(files, want) {
		t.Errorf("files = %q, want %q", files, want)
	}
	found := false
	for _, d := range diags {
		if d.Code == DirInDir && strings.HasSuffix(d.Msg, "c2/dir.conf") {
			found = true
		}
	}
	if !found {
		t.Errorf("no message for a directory named .conf: %+v", diags)
	}
}

func TestCmdline(t *testing.T) {
	var c Config
	var diags []Diag
	line := `BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet "parport.dyndbg=file drivers/parport/ieee1284_ops.c +mpf" ` +
		`modprobe.blacklist=a-b,c psmouse.proto mod-x.p="x y" a.b.c=1 ivrs_acpihid[00:14.5]=AMD0020:0 bad]x.p=1 ` +
		`-- --init x.y=z` + "\n"
	c.ParseCmdline([]byte(line), "/proc/cmdline", func(d Diag) { diags = append(diags, d) })
	var opts []string
	for _, o := range c.Options {
		opts = append(opts, o.Module+" "+o.Options)
	}
	want := []string{
		`parport dyndbg="file drivers/parport/ieee1284_ops.c +mpf"`,
		"psmouse proto",
		`mod_x p="x y"`,
		"x y=z",
	}
	if !slices.Equal(opts, want) {
		t.Errorf("options:\n%q\nwant\n%q", opts, want)
	}
	var bl []string
	for _, b := range c.Blacklist {
		bl = append(bl, b.Module)
	}
	if !slices.Equal(bl, []string{"a-b", "c"}) {
		t.Errorf("blacklist = %q (entries are not normalized)", bl)
	}
	if len(diags) != 2 || diags[0].Msg != "Ignoring bad option on kernel command line while parsing module name: 'ivrs_acpihid[00:14'" ||
		diags[1].Msg != "Ignoring bad option on kernel command line while parsing module name: 'bad]x'" {
		t.Errorf("diags = %+v", diags)
	}
}

// TestUnstatableEntry: kmod 34 leaves out an entry of a configuration
// directory it cannot stat (a dangling link), naming it, so that a file of
// that name in a later directory counts; kmod 30 takes the entry, cannot
// open it, and the later file loses to it.
func TestUnstatableEntry(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"c1", "c2"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, "nonexistent"), filepath.Join(root, "c1/a.conf")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "c2/a.conf"), []byte("alias from c2 x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dialect Dialect
		aliases int
		diag    bool
	}{{Latest, 1, true}, {Kmod30, 0, false}} {
		var diags []Diag
		c := Load(Source{Paths: []string{root + "/c1", root + "/c2"}, Dialect: tc.dialect}, func(d Diag) { diags = append(diags, d) })
		named := slices.ContainsFunc(diags, func(d Diag) bool {
			return d.Code == StatEntry && d.Msg == "Cannot stat directory entry: "+root+"/c1/a.conf"
		})
		if len(c.Aliases) != tc.aliases || named != tc.diag {
			t.Errorf("dialect %d: %d aliases, message %v (%+v); want %d, %v", tc.dialect, len(c.Aliases), named, diags, tc.aliases, tc.diag)
		}
	}
}

// byteLoopLines is logicalLines as it was written first, one byte at a
// time: the oracle for the fast path that gives a line without a
// backslash as it is.
func byteLoopLines(data []byte, eofByte bool, fn func(line []byte, num int)) {
	num := 0
	buf := make([]byte, 0, 256)
	for i := 0; ; {
		if i >= len(data) {
			if len(buf) > 0 {
				num++
				fn(cutNUL(buf), num)
			}
			return
		}
		c := data[i]
		i++
		switch c {
		case '\n':
			num++
			fn(cutNUL(buf), num)
			buf = buf[:0]
		case '\\':
			if i >= len(data) {
				if eofByte {
					buf = append(buf, 0xff)
				}
				continue
			}
			c = data[i]
			i++
			if c == '\n' {
				num++
				continue
			}
			buf = append(buf, c)
		default:
			buf = append(buf, c)
		}
	}
}

// TestLogicalLinesMatchesByteLoop: on random text of newlines,
// backslashes, NULs and letters, both dialects, logicalLines gives the
// lines and numbers the byte loop gives.
func TestLogicalLinesMatchesByteLoop(t *testing.T) {
	collect := func(split func([]byte, bool, func([]byte, int)), data []byte, eofByte bool) []string {
		var out []string
		split(data, eofByte, func(line []byte, n int) { out = append(out, fmt.Sprintf("%q@%d", line, n)) })
		return out
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab \t\\\n\n\x00#")
	for i := range 20000 {
		data := make([]byte, rng.IntN(40))
		for j := range data {
			data[j] = alphabet[rng.IntN(len(alphabet))]
		}
		eofByte := i%2 == 0
		require.Equal(t, collect(byteLoopLines, data, eofByte), collect(logicalLines, data, eofByte), "input %q, eofByte %v", data, eofByte)
	}
}
