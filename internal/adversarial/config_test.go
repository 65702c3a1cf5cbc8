package adversarial_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/modprobetest"
)

// advChain writes the builtin modules m1..mN and a real module m0, with a
// softdep chain m0 -> m1 -> ... -> mN in modprobe.d (each m_i's softdep
// names m_i+1, pre or post).
func advChain(kind string) func(t *testing.T, n int) *advEnv {
	return func(t *testing.T, n int) *advEnv {
		e := advTree(t, modprobetest.Module{Name: "m0"})
		var bi, conf strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&bi, "kernel/m%d.ko\n", i)
		}
		for i := range n {
			fmt.Fprintf(&conf, "softdep m%d %s: m%d\n", i, kind, i+1)
		}
		e.writeFile(t, "modules.builtin", bi.String())
		e.writeFile(t, filepath.Join(e.conf, "chain.conf"), conf.String())
		e.vals["n"] = fmt.Sprint(n)
		return e
	}
}

// advChainLength checks that a plan has e.vals["n"]+1 actions: one per
// module of a chain, or one per copy of a repeated dependency and the
// module itself.
func advChainLength(t *testing.T, e *advEnv) {
	n := 0
	fmt.Sscan(e.vals["n"], &n)
	advVal("actions", fmt.Sprint(n+1))(t, e)
}

// advAliasLines writes n modules f0000.. without files in modules.dep and
// n alias lines (format, given the module's number) to the file file
// names, relative to the module directory or absolute.
func advAliasLines(file func(e *advEnv) string, format string) func(t *testing.T, n int) *advEnv {
	return func(t *testing.T, n int) *advEnv {
		e := advTree(t)
		var alias, dep strings.Builder
		for i := range n {
			fmt.Fprintf(&alias, format, i)
			fmt.Fprintf(&dep, "kernel/f%04d.ko:\n", i)
		}
		e.writeFile(t, file(e), alias.String())
		e.writeFile(t, "modules.dep", dep.String())
		e.vals["n"] = fmt.Sprint(n)
		return e
	}
}

// advCountingKernel is a Kernel that only records the files it is given:
// for the fan-out load, whose cost must be the Loader's alone (the fake
// kernel rewrites /proc/modules whole at every insert, which is quadratic
// in itself).
type advCountingKernel struct {
	mu    sync.Mutex
	files []string
}

func (k *advCountingKernel) FinitModule(f *os.File, params string, flags modprobe.InitFlags) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.files = append(k.files, filepath.Base(f.Name()))
	return nil
}

func (k *advCountingKernel) InitModule(image []byte, params string) error { return syscall.ENOSYS }

func (k *advCountingKernel) DeleteModule(name string, flags modprobe.DeleteFlags) error {
	return syscall.ENOSYS
}

// advFanout writes n real modules f0000.. each with the alias "fan:*" in
// modules.alias, and loads them into an advCountingKernel.
func advFanout(t *testing.T, n int) *advEnv {
	var mods []modprobetest.Module
	for i := range n {
		mods = append(mods, modprobetest.Module{Name: fmt.Sprintf("f%04d", i), Aliases: []string{"fan:*"}})
	}
	e := advTree(t, mods...)
	e.vals["n"] = fmt.Sprint(n)
	e.kern = &advCountingKernel{}
	return e
}

func advConfigCases() []advCase {
	const cat = "config"
	confSetup := func(content func(n int) string) func(t *testing.T, n int) *advEnv {
		return func(t *testing.T, n int) *advEnv {
			e := advTree(t, modprobetest.Module{Name: "a", Params: []string{"x:int"}})
			e.writeFile(t, filepath.Join(e.conf, "hostile.conf"), content(n))
			return e
		}
	}
	loadA := func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, "a") }
	return []advCase{
		{
			name: "10 MB bad line", category: cat, size: advBig, text: true,
			setup: confSetup(func(n int) string { return strings.Repeat("z", n) + "\noptions a x=1\n" }),
			act:   loadA,
			want:  advNoError(), inserted: []string{"a"},
			post: func(t *testing.T, e *advEnv) {
				advLogHas("ignoring bad line starting with 'zzzz")(t, e)
				if p := e.k.Inserts()[0].Params; p != "x=1 " {
					t.Errorf("a got %q", p)
				}
			},
		},
		{
			// kmod passes a 10 MB options line on; so does gokmod, whole.
			name: "10 MB options line", category: cat, size: advBig, text: true,
			setup: confSetup(func(n int) string { return "options a y=" + strings.Repeat("y", n) + "\n" }),
			act:   loadA,
			want:  advNoError(), inserted: []string{"a"},
			post: func(t *testing.T, e *advEnv) {
				if p := e.k.Inserts()[0].Params; len(p) != advBig+3 || !strings.HasPrefix(p, "y=yyy") {
					t.Errorf("a got %d bytes of parameters: %.20q", len(p), p)
				}
			},
		},
		{
			name: "10 MB alias line", category: cat, size: advBig, text: true,
			setup: confSetup(func(n int) string { return "alias " + strings.Repeat("q", n) + " a\n" }),
			act:   func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, "qqqq") },
			want:  advIs(modprobe.ErrNotFound),
		},
		{
			// A NUL byte ends a line, as for kmod's line reader: what
			// follows it never reaches the kernel, and "install\0" is a
			// bad line, not a command.
			name: "NUL bytes", category: cat,
			setup: confSetup(func(int) string {
				return "options a x=1\x00 evil=1\ninstall\x00 a touch /tmp/gokmod-adv-evil\nalias ev\x00il a\n"
			}),
			act:  loadA,
			want: advNoError(), inserted: []string{"a"},
			post: func(t *testing.T, e *advEnv) {
				if p := e.k.Inserts()[0].Params; strings.ContainsAny(p, "\x00") || strings.Contains(p, "evil") {
					t.Errorf("a got %q", p)
				}
				if _, err := os.Stat("/tmp/gokmod-adv-evil"); err == nil {
					t.Error("the install command ran")
				}
			},
		},
		{
			// A FIFO in modprobe.d: the documented rule is "regular
			// files, or a device"; open(2) of a FIFO blocks.
			name: "FIFO in modprobe.d", category: cat, timeout: time.Second,
			setup: func(t *testing.T, n int) *advEnv {
				e := advTree(t, modprobetest.Module{Name: "a"})
				e.fifo(t, filepath.Join(e.conf, "fifo.conf"))
				return e
			},
			act:  loadA,
			want: advNoError(), inserted: []string{"a"},
		},
		{
			// A device that never ends is cut at config.MaxFileSize (64
			// MiB) and holds no line.
			name: "modprobe.d file linked to /dev/zero", category: cat, size: 64 << 20, text: true,
			setup: func(t *testing.T, n int) *advEnv {
				e := advTree(t, modprobetest.Module{Name: "a"})
				if err := os.Symlink("/dev/zero", filepath.Join(e.conf, "zero.conf")); err != nil {
					t.Fatal(err)
				}
				return e
			},
			act:  loadA,
			want: advNoError(), inserted: []string{"a"},
		},
		{
			name: "softdep chain 10,000 deep (pre)", category: cat, size: 10000, pilot: true,
			setup: advChain("pre"),
			act:   func(ctx context.Context, t *testing.T, e *advEnv) error { return e.plan(ctx, t, "m0") },
			want:  advNoError(),
			post:  advChainLength,
		},
		{
			name: "softdep chain 10,000 deep (post)", category: cat, size: 10000, pilot: true,
			setup: advChain("post"),
			act:   func(ctx context.Context, t *testing.T, e *advEnv) error { return e.plan(ctx, t, "m0") },
			want:  advNoError(),
			post:  advChainLength,
		},
		{
			// A parallel load schedules the chain: its constraints must
			// not be quadratic either. Every m_i is builtin; m0 goes in.
			name: "softdep chain 10,000 deep, parallel load", category: cat, size: 10000, pilot: true,
			setup: advChain("pre"),
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				l, err := e.loader(t)
				if err != nil {
					return err
				}
				return l.LoadWith(ctx, "m0", nil, modprobe.LoadOptions{Jobs: 2})
			},
			want: advNoError(), inserted: []string{"m0"},
		},
		{
			name: "softdep cycle", category: cat,
			setup: func(t *testing.T, n int) *advEnv {
				e := advTree(t, modprobetest.Module{Name: "a"}, modprobetest.Module{Name: "b"}, modprobetest.Module{Name: "c"})
				e.writeFile(t, filepath.Join(e.conf, "cycle.conf"), "softdep a pre: b post: c\nsoftdep b pre: a c\nsoftdep c pre: a b post: a\n")
				return e
			},
			act:  loadA,
			want: advNoError(), inserted: []string{"c", "b", "a"},
		},
		{
			// 5,000 alias lines for one name: Plan has 5,000 probes and
			// must stay linear.
			name: "alias fan-out to 5,000 modules (plan)", category: cat, size: 5000, pilot: true,
			setup: advAliasLines(func(e *advEnv) string { return filepath.Join(e.conf, "fan.conf") }, "alias cfan f%04d\n"),
			act:   func(ctx context.Context, t *testing.T, e *advEnv) error { return e.plan(ctx, t, "cfan") },
			want:  advNoError(),
			post:  func(t *testing.T, e *advEnv) { advVal("probes", e.vals["n"])(t, e) },
		},
		{
			// modules.alias patterns matching one name 5,000 times:
			// Lookup returns them all, in modules.alias order.
			name: "alias fan-out to 5,000 modules (lookup)", category: cat, size: 5000, pilot: true,
			setup: advAliasLines(func(*advEnv) string { return "modules.alias" }, "alias fan:* f%04d\n"),
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				l, err := e.loader(t)
				if err != nil {
					return err
				}
				mods, err := l.Lookup(ctx, "fan:x")
				for i, m := range mods {
					if want := fmt.Sprintf("f%04d", i); m.Name != want {
						return fmt.Errorf("module %d is %s, want %s", i, m.Name, want)
					}
				}
				e.vals["found"] = fmt.Sprint(len(mods))
				return err
			},
			want: advNoError(),
			post: func(t *testing.T, e *advEnv) { advVal("found", e.vals["n"])(t, e) },
		},
		{
			// A modules.alias pattern shared by 2,000 modules: a load
			// tries each, in modules.alias order, as modprobe does.
			name: "alias fan-out to 2,000 modules (load)", category: cat, size: 2000, pilot: true,
			setup: advFanout,
			act:   func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, "fan:x") },
			want:  advNoError(),
			post: func(t *testing.T, e *advEnv) {
				n := 0
				fmt.Sscan(e.vals["n"], &n)
				got := e.kern.(*advCountingKernel).files
				if len(got) != n {
					t.Fatalf("%d modules inserted, want %d", len(got), n)
				}
				for i, f := range got {
					if want := fmt.Sprintf("f%04d.ko", i); f != want {
						t.Fatalf("insert %d is %s, want %s (modules.alias order)", i, f, want)
					}
				}
			},
		},
	}
}
