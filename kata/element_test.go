package kata

import (
	"errors"
	"reflect"
	"testing"

	"github.com/gokmod/modprobe"
)

// elementCases are the element grammar's edge cases (consumers.md §1(a)
// and §1(d)): what each runtime does today, and what ParseElement does.
var elementCases = []struct {
	name string
	in   string
	want []string // name then params; nil: skipped
	err  error    // the cause, for errors.Is
}{
	{"name only", "i915", []string{"i915"}, nil},
	{"template example", "e1000e InterruptThrottleRate=3000,3000,3000 EEE=1",
		[]string{"e1000e", "InterruptThrottleRate=3000,3000,3000", "EEE=1"}, nil},
	{"empty element skipped", "", nil, nil},
	{"whitespace-only element skipped", " \t\n ", nil, nil},
	{"leading space trimmed (runtime-rs gave an empty name)", " i915", []string{"i915"}, nil},
	{"trailing space trimmed", "i915 enable_ppgtt=0 ", []string{"i915", "enable_ppgtt=0"}, nil},
	{"runs of spaces collapse (runtime-rs gave empty params)", "m  a=1   b=2", []string{"m", "a=1", "b=2"}, nil},
	{"tabs and newlines separate (runtime-rs kept them in words)", "m\ta=1\nb=2\r\vc=3\fd=4", []string{"m", "a=1", "b=2", "c=3", "d=4"}, nil},
	{"unicode space separates, as strings.Fields", "m\u00a0a=1\u2003b=2", []string{"m", "a=1", "b=2"}, nil},
	{"quoted value is one parameter, quotes kept", `ModuleName Param1="spaces in here"`, []string{"ModuleName", `Param1="spaces in here"`}, nil},
	{"quoted value then another (runtime-rs glued them)", `m p="x" q=1`, []string{"m", `p="x"`, "q=1"}, nil},
	{"tab inside quotes kept", "m p=\"a\tb\"", []string{"m", "p=\"a\tb\""}, nil},
	{"quote in the middle of a word", `m p=a"b c"d e=1`, []string{"m", `p=a"b c"d`, "e=1"}, nil},
	{"two quoted groups in one word", `m p="a b","c d"`, []string{"m", `p="a b","c d"`}, nil},
	{"empty quotes", `m p=""`, []string{"m", `p=""`}, nil},
	{"single quotes are ordinary (the kernel ignores them)", `m p='a b'`, []string{"m", `p='a`, `b'`}, nil},
	{"commas are part of array values", "m a=1,2,3", []string{"m", "a=1,2,3"}, nil},
	{"a semicolon stays in a config element", "a;b", []string{"a;b"}, nil},
	{"an alias as the name", "pci:v00008086d000010D3sv*sd*bc*sc*i*", []string{"pci:v00008086d000010D3sv*sd*bc*sc*i*"}, nil},
	{"dashes inside a name are fine", "snd-hda-intel", []string{"snd-hda-intel"}, nil},
	{"a name with '=' passes through (Kata's own test texture)", "i915_enabled_ppgtt=0", []string{"i915_enabled_ppgtt=0"}, nil},
	{"foo.ko is a name, not a path", "foo.ko", []string{"foo.ko"}, nil},
	{"invalid UTF-8 kept byte for byte", "m p=\xff\xfe", []string{"m", "p=\xff\xfe"}, nil},

	{"unbalanced quote", `ModuleName "Param1`, nil, ErrUnbalancedQuote},
	{"unbalanced quote at the end", `m p="a b`, nil, ErrUnbalancedQuote},
	{"three quotes", `m p="a"b"`, nil, ErrUnbalancedQuote},
	{"name -r would be a removal", "-r ip_vs", nil, modprobe.ErrBadName},
	{"name --remove", "--remove", nil, modprobe.ErrBadName},
	{"name - alone", "-", nil, modprobe.ErrBadName},
	{"name holds a slash", "../../tmp/evil", nil, modprobe.ErrBadName},
	{"name is an absolute path", "/lib/modules/evil.ko", nil, modprobe.ErrBadName},
	{"name quoted", `"i915"`, nil, modprobe.ErrBadName},
	{"name with a quoted space", `"a b" p=1`, nil, modprobe.ErrBadName},
	{"name with a NUL byte", "a\x00b", nil, modprobe.ErrBadName},
	{"parameter -d would choose the module directory", "foo -d /run/kata-containers/shared/containers/X", nil, modprobe.ErrBadParams},
	{"parameter -r", "foo -r", nil, modprobe.ErrBadParams},
	{"parameter with a newline inside quotes", "m p=\"a\nb\"", nil, modprobe.ErrBadParams},
	{"parameter with a NUL byte", "m p=a\x00b", nil, modprobe.ErrBadParams},
}

func TestParseElement(t *testing.T) {
	for _, tc := range elementCases {
		t.Run(tc.name, func(t *testing.T) {
			req, ok, err := ParseElement(tc.in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("ParseElement(%q) = %+v, %v; want an error wrapping %v", tc.in, req, err, tc.err)
				}
				if ok || req.Name != "" || req.Params != nil {
					t.Fatalf("ParseElement(%q) returned %+v, ok %v with its error", tc.in, req, ok)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseElement(%q): %v", tc.in, err)
			}
			if tc.want == nil {
				if ok {
					t.Fatalf("ParseElement(%q) = %+v; want it skipped", tc.in, req)
				}
				return
			}
			got := append([]string{req.Name}, req.Params...)
			if !ok || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseElement(%q) = %q (ok %v); want %q", tc.in, got, ok, tc.want)
			}
		})
	}
}

func TestParseAnnotation(t *testing.T) {
	cases := []struct {
		in   string
		want []modprobe.Request
		err  error
	}{
		// The documented example: runtime-rs gives " i915" an empty name.
		{"e1000e EEE=1; i915", []modprobe.Request{{Name: "e1000e", Params: []string{"EEE=1"}}, {Name: "i915"}}, nil},
		{"", nil, nil},
		{";;", nil, nil},
		{" ; a ;", []modprobe.Request{{Name: "a"}}, nil},
		{"a;b;a", []modprobe.Request{{Name: "a"}, {Name: "b"}, {Name: "a"}}, nil},
		// ";" splits before quotes are read: a quoted ";" is a separator.
		{`m p="x;y"`, nil, ErrUnbalancedQuote},
		{"ok; -r ip_vs", nil, modprobe.ErrBadName},
		{"foo -d /run/x", nil, modprobe.ErrBadParams},
	}
	for _, tc := range cases {
		got, err := ParseAnnotation(tc.in)
		if tc.err != nil {
			var pe *ParseError
			if !errors.Is(err, tc.err) || !errors.As(err, &pe) || got != nil {
				t.Errorf("ParseAnnotation(%q) = %v, %v; want a *ParseError wrapping %v", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseAnnotation(%q) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseErrorNamesTheElement(t *testing.T) {
	_, err := ParseAnnotation("a; b; -r ip_vs")
	want := `annotation io.katacontainers.config.agent.kernel_modules: element 3 " -r ip_vs": invalid module name: module name "-r" starts with '-'`
	if err == nil || err.Error() != want {
		t.Fatalf("error %q; want %q", err, want)
	}
}
