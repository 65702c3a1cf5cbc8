package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/testmod"
)

// TestDifferentialKmodTool compares the kmod tool itself, its help,
// version and errors, with kmod 30 and kmod 34.2.
func TestDifferentialKmodTool(t *testing.T) {
	forEachKmod(t, "kmod", func(t *testing.T, ref kmodRef) {
		compat := modprobe.CompatLatest
		if !ref.kmod34 {
			compat = modprobe.CompatKmod30
		}
		same, total := 0, 0
		for _, args := range [][]string{
			{}, {"-h"}, {"--help"}, {"--he"}, {"help"}, {"help", "-x", "y"}, {"bogus"}, {"-x"}, {"--bogus"},
			{"--"}, {"--", "help"}, {"-h", "bogus"}, {"static-nodes", "-h"}, {"static-nodes", "--help", "extra"},
			{"static-nodes", "-x"}, {"static-nodes", "--format=bogus"}, {"static-nodes", "-f"}, {"static-nodes", "--output"},
			{"--", "static-nodes", "-h"},
			{"-V"}, {"--version"}, {"--vers"}, {"-V", "bogus"}, {"-hV"},
		} {
			total++
			want := ref.run(t, "kmod", args, nil)
			got := ref.ours("kmod", args, nil)
			// -V: kmod's first line, then gokmod's features.
			if first, _, _ := strings.Cut(want.Stdout, "\n"); strings.HasPrefix(first, "kmod version ") {
				if got.Code == want.Code && got.Stderr == want.Stderr && got.Stdout == versionText(compat) && strings.HasPrefix(got.Stdout, first+"\n") {
					same++
				} else {
					t.Errorf("kmod %s:\nkmod:   %s\ngokmod: %s", shellQuote(args), want, got)
				}
				continue
			}
			if want != got {
				t.Errorf("kmod %s:\nkmod:   %s\ngokmod: %s", shellQuote(args), want, got)
				continue
			}
			same++
		}
		t.Logf("kmod against %s: %d/%d invocations identical (-V as far as it must be)", ref.name, same, total)
	})
}

// nsRunner runs programs in a private mount namespace in which
// /lib/modules is a directory of the test's: kmod static-nodes reads the
// running kernel's /lib/modules/RELEASE/modules.devname and takes no
// other path. /lib is overlaid with a directory holding an empty
// "modules" (so that /lib/modules exists, whatever the machine has), and
// the test's directory is bound on it.
type nsRunner struct {
	unshare []string // the unshare command line
	lower   string
}

// newNSRunner returns a runner, or fails the test (skips it outside CI)
// when the machine gives no mount namespace.
func newNSRunner(t *testing.T) *nsRunner {
	t.Helper()
	r := &nsRunner{unshare: []string{"unshare", "-m"}, lower: t.TempDir()}
	if os.Geteuid() != 0 {
		r.unshare = []string{"unshare", "-U", "-r", "-m"}
	}
	if err := os.Mkdir(filepath.Join(r.lower, "modules"), 0o755); err != nil {
		t.Fatal(err)
	}
	probe := t.TempDir()
	if o, err := r.run(probe, "/bin/true", nil, nil); err != nil || o.Code != 0 {
		msg := "a private mount namespace with /lib overlaid is needed for kmod static-nodes"
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s: %v %v", msg, err, o)
		}
		t.Skipf("skipping: %s: %v %v", msg, err, o)
	}
	return r
}

// run runs path with args and the environment vars, in a new namespace
// whose /lib/modules is mods.
func (r *nsRunner) run(mods, path string, args []string, vars map[string]string) (outcome, error) {
	const script = `mount -t overlay overlay -o "lowerdir=$2:/lib" /lib && mount --bind "$1" /lib/modules && shift 3 && exec "$@"`
	argv := append(append(append([]string{}, r.unshare[1:]...), "sh", "-c", script, "sh", mods, r.lower, "--", path), args...)
	return execAs(r.unshare[0], r.unshare[0], "", argv, vars)
}

// TestDifferentialStaticNodes compares kmod static-nodes with kmod 30's
// and 34.2's on Debian 13's modules.devname and on crafted ones, in every
// format, to standard output and to files, and its errors.
func TestDifferentialStaticNodes(t *testing.T) {
	ns := newNSRunner(t)
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var rel []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		rel = append(rel, byte(c))
	}
	root13, release13 := testmod.Debian13Tree(t)
	debian13, err := os.ReadFile(filepath.Join(testmod.ModuleDir(root13, release13), "modules.devname"))
	if err != nil {
		t.Fatal(err)
	}
	crafted := "# Device nodes to trigger on-demand module loading.\n" +
		"fuse fuse c10:229\n" +
		"\tloop   loop-control\tc 10 :237\n" + // ':' must follow the major
		"dm_mod mapper/control c10:236\n" +
		"deep a/b/c/node b259: 0\n" +
		"wrap w c4294967296:-1\n" +
		"big g c99999999999999999999999:+7\n" +
		"badtype x x10:1\n" +
		"short onlytwo\n" +
		"\n" +
		"#\n" +
		"nul n\x00ul c1:2\n" +
		strings.Repeat("L", 5000) + " long c1:1\n" +
		"last l b8:0"
	cases := []struct {
		name  string
		files map[string]string // below /lib/modules; "@REL@" is the release
		all   bool              // every command line, not only a few
	}{
		{"debian13", map[string]string{"@REL@/modules.devname": string(debian13)}, true},
		{"crafted", map[string]string{"@REL@/modules.devname": crafted}, true},
		{"empty", map[string]string{"@REL@/modules.devname": ""}, false},
		{"missing", map[string]string{"@REL@/modules.dep": ""}, false},
		{"no-release", map[string]string{"other/modules.devname": "x x c1:1\n"}, false},
		{"directory", map[string]string{"@REL@/modules.devname/x": ""}, false},
	}
	// gokmod runs as a separate process (a link named kmod), as systemd
	// runs it; built without the race detector, it starts in a few
	// milliseconds.
	bin := gokmodTools(t)
	same, total := 0, 0
	for _, ref := range []kmodRef{ref30(), ref34()} {
		for _, c := range cases {
			mods := t.TempDir()
			for name, data := range c.files {
				p := filepath.Join(mods, strings.ReplaceAll(name, "@REL@", string(rel)))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out := t.TempDir()
			file := filepath.Join(out, "file")
			few := [][]string{
				{"static-nodes"},
				{"static-nodes", "--format=tmpfiles", "--output=" + out + "/run/tmpfiles.d/static-nodes.conf"},
				{"static-nodes", "-o", file, "-f", "devname"},
			}
			all := [][]string{
				{"static-nodes"}, {"static-nodes", "--format=human"}, {"static-nodes", "-f", "tmpfiles"}, {"static-nodes", "--format", "devname"},
				{"static-nodes", "--format=tmpfiles", "--output=" + out + "/run/tmpfiles.d/static-nodes.conf"},
				{"static-nodes", "-o", file, "-f", "devname"},
				{"static-nodes", "-o", file + "/below"},
				{"static-nodes", "-o", "/dev/full"},
				{"static-nodes", "-o", out},
				{"static-nodes", "-o", "/proc/self/nonexistent/x"},
				{"static-nodes", "-o", "/proc/version"},
				{"static-nodes", "-o", "/proc/version/x"},
			}
			if !c.all {
				all = few
			}
			for _, args := range all {
				total++
				label := ref.name + ", " + c.name + ": kmod " + shellQuote(args)
				// Each run starts from out holding an old file.
				fresh := func() {
					t.Helper()
					if err := os.RemoveAll(out); err != nil {
						t.Fatal(err)
					}
					if err := os.MkdirAll(out, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(file, []byte("old contents\n"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				fresh()
				want, err := ns.run(mods, ref.path(t, "kmod"), args, nil)
				if err != nil {
					t.Fatal(err)
				}
				wantFiles := snapshotFiles(t, out)
				fresh()
				got, err := ns.run(mods, filepath.Join(bin, "kmod"), args, ref.env(nil))
				if err != nil {
					t.Fatal(err)
				}
				gotFiles := snapshotFiles(t, out)
				if want != got || wantFiles != gotFiles {
					t.Errorf("%s:\nkmod:   %s%s\ngokmod: %s%s", label, want, wantFiles, got, gotFiles)
					continue
				}
				same++
			}
		}
	}
	t.Logf("kmod static-nodes against kmod 30 and 34.2 (release %s): %d/%d invocations identical, output files included", rel, same, total)
}

// snapshotFiles describes the files below dir: each path and contents.
func snapshotFiles(t *testing.T, dir string) string {
	t.Helper()
	var b bytes.Buffer
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		b.WriteString("\n--- " + strings.TrimPrefix(p, dir) + "\n")
		b.Write(data)
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return b.String()
}
