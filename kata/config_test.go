package kata

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/gokmod/modprobe"
)

func TestParseConfigFullFile(t *testing.T) {
	data, err := os.ReadFile("testdata/configuration.toml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseConfig(data, "testdata/configuration.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := []modprobe.Request{
		{Name: "e1000e", Params: []string{"InterruptThrottleRate=3000,3000,3000", "EEE=1"}},
		{Name: "i915", Params: []string{"enable_ppgtt=0"}},
		{Name: "dummy", Params: []string{"numdummies=2"}},
		{Name: "ip_vs", Params: []string{`conn_tab_bits="11"`}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}

func TestParseConfig(t *testing.T) {
	cases := []struct {
		name, toml string
		want       []modprobe.Request
		errHas     []string // substrings of the error; nil: no error
		cause      error
	}{
		{"no agent section", "[runtime]\nenable_debug = true\n", nil, nil, nil},
		{"agent without kata", "[agent.other]\nkernel_modules = [1]\n", nil, nil, nil},
		{"empty list", "[agent.kata]\nkernel_modules = []\n", nil, nil, nil},
		{"other keys of any type ignored", "[agent.kata]\ndebug = \"yes\"\nkernel_modules = [\"a\"]\nfoo = {x = 1}\n",
			[]modprobe.Request{{Name: "a"}}, nil, nil},
		{"a semicolon stays in one element", "[agent.kata]\nkernel_modules = [\"a;b c=1\"]\n",
			[]modprobe.Request{{Name: "a;b", Params: []string{"c=1"}}}, nil, nil},
		{"dotted keys", "agent.kata.kernel_modules = [\"x\"]\n", []modprobe.Request{{Name: "x"}}, nil, nil},
		{"a string, not an array", "[hypervisor.qemu]\npath = \"/x\"\n\n[agent.kata]\ndebug = true\nkernel_modules = \"e1000e\"\n",
			nil, []string{"kata.toml: ", "line 6", "kernel_modules"}, nil},
		{"a number in the array", "[agent.kata]\nkernel_modules = [\"a\", 1]\n",
			nil, []string{"kata.toml: ", "line 2", "int64"}, nil},
		{"agent.kata not a table", "[agent]\nkata = 3\n", nil, []string{"kata.toml: ", "line 2"}, nil},
		{"malformed TOML", "[agent.kata]\nkernel_modules = [\"a\"\n", nil, []string{"kata.toml: ", "line 2"}, nil},
		{"duplicate key", "[agent.kata]\nkernel_modules = []\nkernel_modules = []\n", nil, []string{"kata.toml: ", "line 3"}, nil},
		{"a bad element names itself", "[agent.kata]\nkernel_modules = [\"ok\", \"-r ip_vs\"]\n",
			nil, []string{`kata.toml: [agent.kata] kernel_modules: element 2 "-r ip_vs"`}, modprobe.ErrBadName},
		{"unbalanced quote", "[agent.kata]\nkernel_modules = ['m p=\"a']\n", nil, []string{"element 1"}, ErrUnbalancedQuote},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConfig([]byte(tc.toml), "kata.toml")
			if tc.errHas == nil {
				if err != nil || !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("got %#v, %v; want %#v", got, err, tc.want)
				}
				return
			}
			var pe *ParseError
			if err == nil || !errors.As(err, &pe) || got != nil {
				t.Fatalf("got %#v, %v; want a *ParseError", got, err)
			}
			for _, s := range tc.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Errorf("error %q does not wrap %v", err, tc.cause)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	config := []modprobe.Request{{Name: "a", Params: []string{"x=1"}}, {Name: "b"}}
	cases := []struct {
		name string
		mode Mode
		ann  map[string]string
		want []modprobe.Request
	}{
		{"no annotation: the configuration", Replace, nil, config},
		{"no annotation, append", Append, map[string]string{"other": "c"}, config},
		{"replace", Replace, map[string]string{Annotation: "c; d y=2"}, []modprobe.Request{{Name: "c"}, {Name: "d", Params: []string{"y=2"}}}},
		// Kata's Go runtime replaces even with an empty value.
		{"empty annotation replaces with nothing", Replace, map[string]string{Annotation: ""}, nil},
		{"append", Append, map[string]string{Annotation: "c"}, []modprobe.Request{config[0], config[1], {Name: "c"}}},
		{"append empty", Append, map[string]string{Annotation: " ; "}, config},
	}
	for _, tc := range cases {
		got, err := Merge(tc.mode, config, tc.ann)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %#v, %v; want %#v", tc.name, got, err, tc.want)
		}
	}
	if len(config) != 2 || config[1].Name != "b" {
		t.Fatalf("Merge changed its input: %v", config)
	}
	if _, err := Merge(Append, config, map[string]string{Annotation: "-r x"}); !errors.Is(err, modprobe.ErrBadName) {
		t.Fatalf("bad annotation: %v", err)
	}
	if _, err := Merge(Mode(7), config, map[string]string{Annotation: "x"}); err == nil {
		t.Fatal("Merge accepted an unknown mode")
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{Replace, Append} {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m, got, err)
		}
	}
	if _, err := ParseMode("Replace"); err == nil {
		t.Error("ParseMode accepted \"Replace\"")
	}
}
