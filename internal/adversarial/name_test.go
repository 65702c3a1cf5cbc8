package adversarial_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gokmod/modprobe"
)

func advNameCases() []advCase {
	const cat = "name"
	// setup with a and evil.ko outside the module directory, and a live
	// module "live" that a removal must not touch.
	setup := func(t *testing.T, n int) *advEnv {
		e := advPlain(t)
		if err := e.k.Preload("live"); err != nil {
			t.Fatal(err)
		}
		return e
	}
	load := func(name string, params ...string) func(ctx context.Context, t *testing.T, e *advEnv) error {
		return func(ctx context.Context, t *testing.T, e *advEnv) error { return e.load(ctx, t, name, params...) }
	}
	lookup := func(name string) func(ctx context.Context, t *testing.T, e *advEnv) error {
		return func(ctx context.Context, t *testing.T, e *advEnv) error {
			l, err := e.loader(t)
			if err != nil {
				return err
			}
			n := name
			if n == "" {
				n = e.input[0]
			}
			_, err = l.Lookup(ctx, n)
			return err
		}
	}
	big := func(prefix string) func(t *testing.T, n int) *advEnv {
		return func(t *testing.T, n int) *advEnv {
			e := setup(t, n)
			e.input = []string{prefix + strings.Repeat("n", n)}
			return e
		}
	}
	stillLive := func(t *testing.T, e *advEnv) {
		if !e.k.IsLive("live") {
			t.Error("module live was removed")
		}
	}
	return []advCase{
		{name: `load "-r"`, category: cat, setup: setup, act: load("-r", "live"), want: advIs(modprobe.ErrBadName), post: stillLive},
		{name: `load "--force"`, category: cat, setup: setup, act: load("--force"), want: advIs(modprobe.ErrBadName)},
		{name: "load with a NUL byte", category: cat, setup: setup, act: load("a\x00evil"), want: advIs(modprobe.ErrBadName)},
		{name: "load of a path", category: cat, setup: setup, act: load("../../../outside/evil"), want: advIs(modprobe.ErrBadName)},
		{name: "lookup with a NUL byte", category: cat, setup: setup, act: lookup("a\x00"), want: advIs(modprobe.ErrBadName)},
		{name: "lookup with an unmatched bracket", category: cat, setup: setup, act: lookup("a[b"), want: advIs(modprobe.ErrBadName)},
		{name: "10 MB name", category: cat, size: advBig, text: true, setup: big(""), act: lookup(""), want: advIs(modprobe.ErrBadName, modprobe.ErrNotFound)},
		{name: "parameter with a NUL byte", category: cat, setup: setup, act: load("a", "x=1\x00evil=1"), want: advIs(modprobe.ErrBadParams)},
		{name: "parameter with a newline", category: cat, setup: setup, act: load("a", "x=1\nevil=1"), want: advIs(modprobe.ErrBadParams)},
		{
			// A 10 MB parameter is one parameter: it reaches the kernel
			// whole (the kernel bounds it), with one copy or two.
			name: "10 MB parameter", category: cat, size: advBig, text: true, setup: big("x="),
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				return e.load(ctx, t, "a", e.input[0])
			},
			want: advNoError(), inserted: []string{"a"},
		},
		{
			name: `remove "-r" and "--force"`, category: cat, setup: setup,
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				l, err := e.loader(t)
				if err != nil {
					return err
				}
				return l.Remove(ctx, "-r", "--force", "-f", "live\x00")
			},
			want: advIs(modprobe.ErrNotFound, modprobe.ErrBadName),
			post: stillLive,
		},
	}
}
