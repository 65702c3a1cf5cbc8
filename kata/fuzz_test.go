package kata

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/gokmod/modprobe"
)

// FuzzElement checks the element grammar: no panic; a result has a name,
// words hold an even number of quotes and no whitespace outside quotes,
// and printing the request and reading it again gives it back.
func FuzzElement(f *testing.F) {
	for _, tc := range elementCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, elem string) {
		req, ok, err := ParseElement(elem)
		if err != nil {
			if !errors.Is(err, ErrUnbalancedQuote) && !errors.Is(err, modprobe.ErrBadName) && !errors.Is(err, modprobe.ErrBadParams) {
				t.Fatalf("ParseElement(%q): unexpected error %v", elem, err)
			}
			return
		}
		if !ok {
			if strings.TrimFunc(elem, func(r rune) bool { return isSpace(r, utf8.RuneLen(r)) }) != "" {
				t.Fatalf("ParseElement(%q) skipped a non-blank element", elem)
			}
			return
		}
		for _, w := range append([]string{req.Name}, req.Params...) {
			if w == "" || strings.Count(w, `"`)%2 != 0 {
				t.Fatalf("ParseElement(%q): bad word %q", elem, w)
			}
		}
		again, ok, err := ParseElement(req.String())
		if err != nil || !ok || !reflect.DeepEqual(again, req) {
			t.Fatalf("ParseElement(%q) = %#v, but its String %q reads as %#v, %v", elem, req, req.String(), again, err)
		}
	})
}

// FuzzAnnotation checks that the annotation gives the requests of its
// ";"-separated elements.
func FuzzAnnotation(f *testing.F) {
	f.Add("e1000e EEE=1; i915")
	f.Add(`m p="a;b"`)
	f.Add(";;-r x;")
	f.Fuzz(func(t *testing.T, v string) {
		reqs, err := ParseAnnotation(v)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Index < 0 || reqs != nil {
				t.Fatalf("ParseAnnotation(%q): %v", v, err)
			}
			return
		}
		var want []modprobe.Request
		for _, e := range strings.Split(v, ";") {
			if r, ok, _ := ParseElement(e); ok {
				want = append(want, r)
			}
		}
		if !reflect.DeepEqual(reqs, want) {
			t.Fatalf("ParseAnnotation(%q) = %#v; its elements give %#v", v, reqs, want)
		}
	})
}

// FuzzConfig checks that any configuration gives a list or a
// *ParseError, never a panic: the list is what ParseElement makes of the
// [agent.kata] kernel_modules strings a plain TOML decoding finds, and a
// bad element is named by its index and text.
func FuzzConfig(f *testing.F) {
	if data, err := os.ReadFile("testdata/configuration.toml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("[agent.kata]\nkernel_modules = [\"a b=1\", 'c']\n"))
	f.Add([]byte("agent.kata.kernel_modules = \"x\"\n"))
	f.Add([]byte("[agent.kata]\nkernel_modules = [\"ok\", \" \", '-bad', \"\"\"\nm p=\"a b\"\"\"\"]\n[hypervisor.qemu]\npath = 1\n"))
	f.Add([]byte("[agent.kata]\nx = " + strings.Repeat("{b = ", 12) + "[1]" + strings.Repeat("}", 12) + "\n# '''\n"))
	for _, bom := range []string{"\xef\xbb\xbf", "\xff\xfe", "\xfe\xff"} {
		f.Add([]byte(bom + deepKey(MaxNesting+1) + " = 1\n"))
		f.Add([]byte(bom + "[" + deepKey(MaxNesting+1) + "]\n"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		reqs, err := ParseConfig(data, "f.toml")
		var raw struct {
			Agent struct {
				Kata struct {
					KernelModules []string `toml:"kernel_modules"`
				} `toml:"kata"`
			} `toml:"agent"`
		}
		_, terr := toml.Decode(string(data), &raw)
		list := raw.Agent.Kata.KernelModules
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || reqs != nil || !strings.HasPrefix(pe.Source, "f.toml") {
				t.Fatalf("ParseConfig: %v", err)
			}
			switch {
			case pe.Index < 0:
				// ErrTooDeep refuses TOML that decodes, nested deeper than
				// MaxNesting.
				if terr == nil && !errors.Is(err, ErrTooDeep) {
					t.Fatalf("ParseConfig: %v, but the TOML decodes", err)
				}
			case terr != nil || pe.Index >= len(list) || list[pe.Index] != pe.Element:
				t.Fatalf("ParseConfig: %v names element %d %q of %q (TOML error %v)", err, pe.Index, pe.Element, list, terr)
			default:
				if _, _, eerr := ParseElement(pe.Element); eerr == nil {
					t.Fatalf("ParseConfig: %v, but ParseElement accepts the element", err)
				}
			}
			return
		}
		if terr != nil {
			t.Fatalf("ParseConfig accepted TOML that does not decode: %v", terr)
		}
		// What the scan let through is no deeper than MaxNesting as the
		// decoder reads it.
		var decoded map[string]any
		if _, derr := toml.Decode(string(data), &decoded); derr == nil {
			if d := tomlDepth(decoded); d > MaxNesting {
				t.Fatalf("ParseConfig accepted TOML %d levels deep", d)
			}
		}
		var want []modprobe.Request
		for _, e := range list {
			if r, ok, _ := ParseElement(e); ok {
				want = append(want, r)
			}
		}
		if !reflect.DeepEqual(reqs, want) {
			t.Fatalf("ParseConfig = %#v, its elements give %#v", reqs, want)
		}
		for _, r := range reqs {
			if err := check(r); err != nil || r.Name == "" {
				t.Fatalf("ParseConfig gave %#v: %v", r, err)
			}
		}
	})
}
