package adversarial_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/kata"
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
