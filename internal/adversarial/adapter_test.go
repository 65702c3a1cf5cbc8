package adversarial_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/isula"
	"github.com/gokmod/modprobe/kata"
)

func advAdapterCases() []advCase {
	const cat = "adapter"
	// The acts parse e.input, which setup builds with these.
	fixed := func(v ...string) func(t *testing.T, n int) *advEnv {
		return withInput(func(int) []string { return v })
	}
	sized := func(mk func(n int) string) func(t *testing.T, n int) *advEnv {
		return withInput(func(n int) []string { return []string{mk(n)} })
	}
	annotation := func(ctx context.Context, t *testing.T, e *advEnv) error {
		_, err := kata.ParseAnnotation(e.input[0])
		return err
	}
	tomlConfig := func(ctx context.Context, t *testing.T, e *advEnv) error {
		_, err := kata.ParseConfig([]byte(e.input[0]), "configuration.toml")
		return err
	}
	env := func(ctx context.Context, t *testing.T, e *advEnv) error {
		_, err := isula.ParseEnv(e.input)
		return err
	}
	var envErr *isula.EnvError
	var parseErr *kata.ParseError
	isEnvErr := func(err error) string {
		if !errors.As(err, &envErr) {
			return fmt.Sprintf("want an *isula.EnvError, got %v", err)
		}
		return ""
	}
	isParseErr := func(err error) string {
		if !errors.As(err, &parseErr) {
			return fmt.Sprintf("want a *kata.ParseError, got %v", err)
		}
		return ""
	}
	toml := func(elems string) string { return "[agent.kata]\nkernel_modules = [" + elems + "]\n" }
	return []advCase{
		{name: `kata annotation "-r"`, category: cat, setup: fixed("ip_vs;-r;ip_vs_wrr"), act: annotation, want: advAll(advIs(modprobe.ErrBadName), isParseErr)},
		{name: `kata annotation "-d DIR"`, category: cat, setup: fixed("ip_vs -d /tmp/evil"), act: annotation, want: advIs(modprobe.ErrBadParams)},
		{name: "kata annotation with an unbalanced quote", category: cat, setup: fixed(`ip_vs p="a b;ip_vs_wrr`), act: annotation, want: advIs(kata.ErrUnbalancedQuote)},
		{name: "kata annotation with a path", category: cat, setup: fixed("../../outside/evil"), act: annotation, want: advIs(modprobe.ErrBadName)},
		{name: "kata annotation with a NUL byte", category: cat, setup: fixed("ip_vs\x00evil"), act: annotation, want: advIs(modprobe.ErrBadName)},
		{
			name: "kata annotation, 10 MB unbalanced element", category: cat, size: advBig, text: true,
			setup: sized(func(n int) string { return `ip_vs p="` + strings.Repeat("x", n) }),
			act:   annotation, want: advIs(kata.ErrUnbalancedQuote),
		},
		{
			// 5 million one-letter elements: accepted, or refused by a
			// limit, the memory must stay proportional to the 10 MB value.
			name: "kata annotation, 10 MB of elements", category: cat, size: advBig, text: true, pilot: true,
			setup: sized(func(n int) string { return strings.Repeat("a;", n/2) }),
			act:   annotation, want: advEither(),
		},
		{name: `kata configuration.toml "-r"`, category: cat, setup: fixed(toml(`"-r ip_vs"`)), act: tomlConfig, want: advAll(advIs(modprobe.ErrBadName), isParseErr)},
		{name: "kata configuration.toml unbalanced quote", category: cat, setup: fixed(toml(`"ip_vs p=\"x"`)), act: tomlConfig, want: advIs(kata.ErrUnbalancedQuote)},
		{
			name: "kata configuration.toml, 10 MB array", category: cat, size: advBig, text: true, pilot: true,
			setup: sized(func(n int) string { return toml(strings.Repeat(`"a",`, n/4)) }),
			act:   tomlConfig, want: advEither(),
		},
		{name: `isula "-r,ip_vs"`, category: cat, setup: fixed("PATH=/bin", "KERNEL_MODULES=-r,ip_vs"), act: env, want: advAll(advIs(modprobe.ErrBadName), isEnvErr)},
		{name: "isula NUL byte and path", category: cat, setup: fixed("KERNEL_MODULES=ip_vs,a\x00b,../x"), act: env, want: advAll(advIs(modprobe.ErrBadName), isEnvErr)},
		{name: `isula "-d DIR"`, category: cat, setup: fixed("KERNEL_MODULES=ip_vs,-d,/tmp"), act: env, want: advIs(modprobe.ErrBadName)},
		{
			name: "isula, 10 MB bad value", category: cat, size: advBig, text: true,
			setup: sized(func(n int) string { return "KERNEL_MODULES=" + strings.Repeat("x", n) + ",-r" }),
			act:   env, want: advIs(modprobe.ErrBadName),
		},
		{
			name: "isula, 10 MB of names", category: cat, size: advBig, text: true, pilot: true,
			setup: sized(func(n int) string { return "KERNEL_MODULES=" + strings.Repeat("a,", n/2) }),
			act:   env, want: advEither(),
		},
		{
			// The Loader behind the adapters refuses the same requests
			// when a caller builds them without parsing.
			name: "kata.Load of raw hostile requests", category: cat,
			setup: func(t *testing.T, n int) *advEnv { return advPlain(t) },
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				l, err := e.loader(t)
				if err != nil {
					return err
				}
				return kata.Load(ctx, l, []modprobe.Request{{Name: "-r"}, {Name: "a"}}, modprobe.LoadOptions{})
			},
			want: advIs(modprobe.ErrBadName),
		},
		{
			name: "isula.Load of raw hostile requests", category: cat,
			setup: func(t *testing.T, n int) *advEnv { return advPlain(t) },
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				l, err := e.loader(t)
				if err != nil {
					return err
				}
				// modprobe -a semantics: every name is tried.
				return isula.Load(ctx, l, []modprobe.Request{{Name: "--remove"}, {Name: "-d/tmp"}, {Name: "a"}}, modprobe.LoadOptions{})
			},
			want: advIs(modprobe.ErrBadName), inserted: []string{"a"},
		},
		{
			name: "isula.Load of a request with parameters", category: cat,
			setup: func(t *testing.T, n int) *advEnv { return advPlain(t) },
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				l, err := e.loader(t)
				if err != nil {
					return err
				}
				return isula.Load(ctx, l, []modprobe.Request{{Name: "a"}, {Name: "b", Params: []string{"x=1\nevil=1"}}}, modprobe.LoadOptions{})
			},
			want: advIs(modprobe.ErrBadParams),
		},
	}
}

// advTOMLDepthCases are the first rows of issue 13's "parsers stay
// linear" (the others are advPeakBombCases), piloted at 1/16 and 1/8 of
// their size: a Kata configuration.toml of MaxConfigSize bytes nested as
// deep as it goes (inline tables, arrays, a dotted key, a table header):
// the TOML decoder's work grows with the square of the depth, so
// kata.ParseConfig refuses it with kata.ErrTooDeep first.
//
// modinfo on 100,000 parm= entries is piloted in cmd/gokmod
// (TestModinfoManyParamsLinear), whose command this package cannot run.
func advTOMLDepthCases() []advCase {
	parse := func(ctx context.Context, t *testing.T, e *advEnv) error {
		_, err := kata.ParseConfig([]byte(e.input[0]), "configuration.toml")
		return err
	}
	deep := func(prefix, step string) func(n int) []string {
		return func(n int) []string {
			return []string{prefix + strings.Repeat(step, (n-len(prefix))/len(step))}
		}
	}
	var cases []advCase
	for _, c := range []struct{ name, prefix, step string }{
		{"inline tables", "a = ", "{b = "},
		{"arrays", "a = ", "["},
		{"a dotted key", "a", ".b"},
		{"a table header", "[a", ".b"},
		{"a dotted key after a byte-order mark", "\xef\xbb\xbfa", ".b"},
		{"a table header after a UTF-16 byte-order mark", "\xff\xfe[a", ".b"},
	} {
		cases = append(cases, advCase{
			name: "configuration.toml of " + c.name + " nested to the size limit", category: "adapter",
			size: kata.MaxConfigSize, text: true, pilot: true,
			setup: withInput(deep(c.prefix, c.step)), act: parse, want: advIs(kata.ErrTooDeep),
		})
	}
	return cases
}
