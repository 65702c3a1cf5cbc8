package isula

import (
	"errors"
	"reflect"
	"testing"

	"github.com/gokmod/modprobe"
)

// envCases are iSulad's grammar's edge cases (consumers.md §2(a), §2(d)).
var envCases = []struct {
	name    string
	env     []string
	want    []string // module names
	found   bool
	index   int
	dropped string
	bad     string // the item an error names; "" for success
}{
	{"the documented form", []string{"PATH=/bin", "KERNEL_MODULES=ip_vs,ip_vs_wrr"}, []string{"ip_vs", "ip_vs_wrr"}, true, 1, "", ""},
	{"no entry", []string{"PATH=/bin", "TERM=xterm"}, nil, false, 0, "", ""},
	{"nil environment", nil, nil, false, 0, "", ""},
	{"empty value is a no-op", []string{"KERNEL_MODULES="}, nil, true, 0, "", ""},
	{"empty items skipped", []string{"KERNEL_MODULES=,,a,"}, []string{"a"}, true, 0, "", ""},
	{"only commas", []string{"KERNEL_MODULES=,,,"}, nil, true, 0, "", ""},
	{"first exact key wins", []string{"KERNEL_MODULES=a", "KERNEL_MODULES=b"}, []string{"a"}, true, 0, "", ""},
	{"first wins even when empty", []string{"KERNEL_MODULES=", "KERNEL_MODULES=b"}, nil, true, 0, "", ""},
	{"a longer key is another variable", []string{"MY_KERNEL_MODULES=x", "KERNEL_MODULES_X=y", "KERNEL_MODULES=z"}, []string{"z"}, true, 2, "", ""},
	{"the key without '=' is skipped", []string{"KERNEL_MODULES", "KERNEL_MODULES=a"}, []string{"a"}, true, 1, "", ""},
	{"key case matters", []string{"kernel_modules=a"}, nil, false, 0, "", ""},
	{"a second '=' cuts the value", []string{"KERNEL_MODULES=a,b=c,d"}, []string{"a", "b"}, true, 0, "c,d", ""},
	{"the text after a third '=' is dropped too", []string{"KERNEL_MODULES=a=b=c"}, []string{"a"}, true, 0, "b=c", ""},
	{"no de-duplication", []string{"KERNEL_MODULES=a,a"}, []string{"a", "a"}, true, 0, "", ""},
	{"dashes and underscores", []string{"KERNEL_MODULES=snd-hda-intel,nf_conntrack,A9"}, []string{"snd-hda-intel", "nf_conntrack", "A9"}, true, 0, "", ""},
	{"an invalid name in a later entry is never read", []string{"KERNEL_MODULES=a", "KERNEL_MODULES=-r"}, []string{"a"}, true, 0, "", ""},

	{"-r would remove a host module", []string{"KERNEL_MODULES=-r,ip_vs"}, nil, true, 0, "", "-r"},
	{"--remove", []string{"KERNEL_MODULES=ip_vs,--remove"}, nil, true, 0, "", "--remove"},
	{"-f", []string{"KERNEL_MODULES=-f"}, nil, true, 0, "", "-f"},
	{"no trimming", []string{"KERNEL_MODULES=a, b"}, nil, true, 0, "", " b"},
	{"a dot", []string{"KERNEL_MODULES=ip_vs.ko"}, nil, true, 0, "", "ip_vs.ko"},
	{"a slash", []string{"KERNEL_MODULES=../x"}, nil, true, 0, "", "../x"},
	{"a glob", []string{"KERNEL_MODULES=ip_vs*"}, nil, true, 0, "", "ip_vs*"},
	{"non-ASCII letters", []string{"KERNEL_MODULES=modulé"}, nil, true, 0, "", "modulé"},
	{"a NUL byte", []string{"KERNEL_MODULES=a\x00b"}, nil, true, 0, "", "a\x00b"},
	{"a colon (aliases are not allowed)", []string{"KERNEL_MODULES=pci:v1"}, nil, true, 0, "", "pci:v1"},
}

func TestParseEnv(t *testing.T) {
	for _, tc := range envCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEnv(tc.env)
			if tc.bad != "" {
				var ee *EnvError
				if !errors.As(err, &ee) || ee.Item != tc.bad || ee.Index != tc.index || !errors.Is(err, modprobe.ErrBadName) {
					t.Fatalf("ParseEnv(%q) = %+v, %v; want an *EnvError on %q", tc.env, got, err, tc.bad)
				}
				if got.Requests != nil || got.Found {
					t.Fatalf("ParseEnv(%q) returned %+v with its error", tc.env, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEnv(%q): %v", tc.env, err)
			}
			var names []string
			for _, r := range got.Requests {
				if r.Params != nil {
					t.Fatalf("request %+v has parameters", r)
				}
				names = append(names, r.Name)
			}
			if !reflect.DeepEqual(names, tc.want) || got.Found != tc.found || got.Index != tc.index || got.Dropped != tc.dropped {
				t.Fatalf("ParseEnv(%q) = %q found %v index %d dropped %q; want %q %v %d %q",
					tc.env, names, got.Found, got.Index, got.Dropped, tc.want, tc.found, tc.index, tc.dropped)
			}
		})
	}
}

func TestEnvErrorText(t *testing.T) {
	_, err := ParseEnv([]string{"PATH=/bin", "KERNEL_MODULES=ip_vs,-r"})
	want := `process.env[1] KERNEL_MODULES: item "-r": invalid module name: starts with '-'`
	if err == nil || err.Error() != want {
		t.Fatalf("error %q; want %q", err, want)
	}
}

func TestValidName(t *testing.T) {
	for s, want := range map[string]bool{"ip_vs": true, "a-b": true, "-a": false, "": false, "a b": false, "a.b": false} {
		if got := ValidName(s); got != want {
			t.Errorf("ValidName(%q) = %v", s, got)
		}
	}
}
