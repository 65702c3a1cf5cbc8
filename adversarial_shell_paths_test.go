package modprobe_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/kata"
	"github.com/gokmod/modprobe/kmodimage"
	"github.com/gokmod/modprobe/modprobetest"
)

// advShellCases are container-controlled parameters reaching an install
// command's $CMDLINE_OPTS (issue: text from a container never reaches a
// shell unquoted): each must reach the command as one word of data. The
// command writes its arguments, one per line, to root/argv; that file is
// the only write allowed, and a substitution would write to the canary
// directory, which the table watches.
func advShellCases() []advCase {
	const cat = "shell"
	setup := func(t *testing.T, n int) *advEnv {
		e := advTree(t, modprobetest.Module{Name: "loop", Params: []string{"max_loop:int"}})
		argv := filepath.Join(e.root, "argv")
		// The path is quoted: the case's directory is named after it.
		e.writeFile(t, filepath.Join(e.conf, "loop.conf"),
			"install loop for a in $CMDLINE_OPTS; do echo \"$a\"; done >'"+argv+"'\n")
		e.vals["argv"] = argv
		return e
	}
	pwn := func(e *advEnv) string { return filepath.Join(e.outside, "pwned") }
	// annotation loads Kata's annotation "loop PARAMS" as gokmod kata does.
	annotation := func(params func(e *advEnv) string) func(ctx context.Context, t *testing.T, e *advEnv) error {
		return func(ctx context.Context, t *testing.T, e *advEnv) error {
			reqs, err := kata.ParseAnnotation("loop " + params(e))
			if err != nil {
				return err
			}
			l, err := e.loader(t)
			if err != nil {
				return err
			}
			return kata.Load(ctx, l, reqs, modprobe.LoadOptions{})
		}
	}
	// argvIs is a post-condition: the command got exactly these words.
	argvIs := func(want func(e *advEnv) []string) func(t *testing.T, e *advEnv) {
		return func(t *testing.T, e *advEnv) {
			t.Helper()
			b, err := os.ReadFile(e.vals["argv"])
			if err != nil {
				t.Fatal(err)
			}
			if got, w := string(b), strings.Join(want(e), "\n")+"\n"; got != w {
				t.Errorf("the install command got\n%s\nwant\n%s", advShort(got), advShort(w))
			}
		}
	}
	same := func(p func(e *advEnv) string) func(e *advEnv) []string {
		return func(e *advEnv) []string { return []string{p(e)} }
	}
	param := func(s string) func(e *advEnv) string { return func(*advEnv) string { return s } }
	subst := func(e *advEnv) string { return "p=$(touch${IFS}" + pwn(e) + ")" }
	ticks := func(e *advEnv) string { return "p=`touch${IFS}" + pwn(e) + "`" }
	// Not ';': it separates Kata's elements.
	chain := func(e *advEnv) string { return "p=1|touch${IFS}" + pwn(e) + "&&x" }
	quote := func(e *advEnv) string { return "p='$(touch${IFS}" + pwn(e) + ")'" }
	return []advCase{
		{
			name: "kata: ${IFS} splitting into options", category: cat, setup: setup,
			act: annotation(param("max_loop=8${IFS}-a${IFS}dummy")), want: advNoError(),
			writes: []string{"argv"}, post: argvIs(same(param("max_loop=8${IFS}-a${IFS}dummy"))),
		},
		{
			name: "kata: command substitution", category: cat, setup: setup,
			act: annotation(subst), want: advNoError(), writes: []string{"argv"}, post: argvIs(same(subst)),
		},
		{
			name: "kata: backquotes", category: cat, setup: setup,
			act: annotation(ticks), want: advNoError(), writes: []string{"argv"}, post: argvIs(same(ticks)),
		},
		{
			name: "kata: command separators", category: cat, setup: setup,
			act: annotation(chain), want: advNoError(), writes: []string{"argv"}, post: argvIs(same(chain)),
		},
		{
			name: "kata: single quotes closing the quoting", category: cat, setup: setup,
			act: annotation(quote), want: advNoError(), writes: []string{"argv"}, post: argvIs(same(quote)),
		},
		{
			// Quoting cannot keep it from being an option: refused.
			name: "library: a parameter starting with '-'", category: cat, setup: setup,
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				return e.load(ctx, t, "loop", "max_loop=8", "-a")
			},
			want: advIs(modprobe.ErrBadParams),
		},
		{
			// 10 MB of single quotes: each would become four characters,
			// and the command could not even start (one argument over the
			// kernel's limit): refused before it is built.
			name: "library: 10 MB of single quotes", category: cat, size: advBig, text: true, pilot: true,
			setup: func(t *testing.T, n int) *advEnv {
				e := setup(t, n)
				e.input = []string{"p=" + strings.Repeat("'", n)}
				return e
			},
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				return e.load(ctx, t, "loop", e.input...)
			},
			want: advAll(advIs(modprobe.ErrBadParams), advIs(syscall.E2BIG)),
		},
	}
}

// advWorkerPathCases are KMM worker configurations whose paths would
// leave the shared directory, by "..", by a symbolic link the image put
// there, or by a firmware link: refused before anything changes (no
// insert, no removal, no firmware copied, no index written outside).
func advWorkerPathCases() []advCase {
	const cat = "worker"
	// setup: the host tree is the case's root (in-tree module intree,
	// loaded), the shared directory root/shared holds the image's tree
	// (module oot) and firmware, and root/outside is the canary.
	setup := func(link func(t *testing.T, e *advEnv, shared string)) func(t *testing.T, n int) *advEnv {
		return func(t *testing.T, n int) *advEnv {
			e := advTree(t, modprobetest.Module{Name: "intree"})
			if err := e.k.Preload("intree"); err != nil {
				t.Fatal(err)
			}
			shared := filepath.Join(e.root, "shared")
			if _, err := modprobetest.WriteTree(filepath.Join(shared, "opt"), advRelease, modprobetest.Module{Name: "oot"}); err != nil {
				t.Fatal(err)
			}
			e.writeFile(t, filepath.Join(shared, "firmware/oot.bin"), "fw")
			// A module tree without indexes outside: indexing it would
			// write there.
			if _, err := modprobetest.WriteTree(filepath.Join(e.outside, "opt"), advRelease, modprobetest.Module{Name: "oot"}); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(e.outside, "opt/lib/modules", advRelease, "modules.dep")); err != nil {
				t.Fatal(err)
			}
			if link != nil {
				link(t, e, shared)
			}
			e.vals["shared"] = shared
			return e
		}
	}
	symlink := func(target func(e *advEnv) string, at string) func(t *testing.T, e *advEnv, shared string) {
		return func(t *testing.T, e *advEnv, shared string) {
			p := filepath.Join(shared, at)
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target(e), p); err != nil {
				t.Fatal(err)
			}
		}
	}
	load := func(mutate func(c *kmodimage.ModuleConfig)) func(ctx context.Context, t *testing.T, e *advEnv) error {
		return func(ctx context.Context, t *testing.T, e *advEnv) error {
			c := &kmodimage.ModuleConfig{
				KernelVersion:         advRelease,
				InTreeModulesToRemove: []string{"intree"},
				Modprobe:              kmodimage.ModprobeSpec{ModuleName: "oot", DirName: "/opt", FirmwarePath: "/firmware"},
			}
			if mutate != nil {
				mutate(c)
			}
			w := &kmodimage.Worker{
				SharedDir:     e.vals["shared"],
				FirmwarePath:  filepath.Join(e.root, "hostfw"),
				KernelRelease: advRelease,
				Options:       e.k.Options(modprobe.Options{RootDir: e.root, ConfigPaths: []string{}}),
			}
			return w.Load(ctx, c)
		}
	}
	outside := func(rel string) func(e *advEnv) string {
		return func(e *advEnv) string { return filepath.Join(e.outside, rel) }
	}
	return []advCase{
		{
			name: "dirName climbing out", category: cat, setup: setup(nil),
			act:  load(func(c *kmodimage.ModuleConfig) { c.Modprobe.DirName = "/opt/../../outside/opt" }),
			want: advIs(kmodimage.ErrConfig),
		},
		{
			name: "firmwarePath climbing out", category: cat, setup: setup(nil),
			act:  load(func(c *kmodimage.ModuleConfig) { c.Modprobe.FirmwarePath = "/firmware/../../outside" }),
			want: advIs(kmodimage.ErrConfig),
		},
		{
			name: "kernelVersion climbing out", category: cat, setup: setup(nil),
			act:  load(func(c *kmodimage.ModuleConfig) { c.KernelVersion = "../../../outside" }),
			want: advIs(kmodimage.ErrConfig),
		},
		{
			name: "dirName a symbolic link out", category: cat, setup: setup(symlink(outside("opt"), "opt")),
			act: load(nil), want: advIs(kmodimage.ErrOutsideRoot),
		},
		{
			name: "kernel directory a relative link out", category: cat,
			setup: setup(symlink(func(*advEnv) string { return "../../../../outside/opt/lib/modules/" + advRelease }, "opt/lib/modules/"+advRelease)),
			act:   load(nil), want: advIs(kmodimage.ErrOutsideRoot),
		},
		{
			name: "firmwarePath a symbolic link out", category: cat, setup: setup(symlink(outside(""), "firmware")),
			act: load(nil), want: advIs(kmodimage.ErrOutsideRoot),
		},
		{
			name: "firmware link to a host file", category: cat, setup: setup(symlink(func(*advEnv) string { return "/etc/shadow" }, "firmware/evil.bin")),
			act: load(nil), want: advIs(kmodimage.ErrUnsafeEntry),
		},
	}
}
