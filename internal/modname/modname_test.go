package modname

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"foo-bar.ko.xz": "foo_bar",
		"iTCO_wdt":      "iTCO_wdt",
		"a-b-c":         "a_b_c",
		".hidden":       "",
		"x\x00y":        "x",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
	if got := FromPath("kernel/drivers/net/e1000e.ko.zst"); got != "e1000e" {
		t.Errorf("FromPath = %q", got)
	}
	if got := FromPath("dir/"); got != "" {
		t.Errorf("FromPath(dir/) = %q", got)
	}
}

func TestAliasAndUnderscores(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"fs-foo", "fs_foo"},
		{"net-pf-[1-3]-x", "net_pf_[1-3]_x"},
		{"a[-]b-c", "a[-]b_c"},
		{"pci:v00008086d*", "pci:v00008086d*"},
		{"mod.name-x", "mod.name_x"},
	} {
		for _, f := range []func(string) (string, error){Alias, Underscores} {
			if got, err := f(tc.in); err != nil || got != tc.want {
				t.Errorf("%q: got %q, %v; want %q", tc.in, got, err, tc.want)
			}
		}
	}
	for _, bad := range []string{"a]b", "a[b", "[", "]"} {
		if _, err := Alias(bad); !errors.Is(err, ErrBracket) {
			t.Errorf("Alias(%q) err = %v", bad, err)
		}
		if _, err := Underscores(bad); !errors.Is(err, ErrBracket) {
			t.Errorf("Underscores(%q) err = %v", bad, err)
		}
	}
	long := strings.Repeat("a-", 3000)
	if got, _ := Alias(long); len(got) != MaxLen {
		t.Errorf("Alias cuts to %d bytes, got %d", MaxLen, len(got))
	}
}
