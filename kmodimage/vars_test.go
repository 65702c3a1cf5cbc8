package kmodimage

import (
	"errors"
	"reflect"
	"testing"
)

func TestNormalizeVersion(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.3-4": "1.2.3-4", "1.2.3+4": "1.2.3_4", "1.2.3_4": "1.2.3_4", "1.2.3&4": "1.2.3_4",
		"1.2.3%4": "1.2.3_4", "1.2.3?4": "1.2.3_4", "1.2.3 4": "1.2.3_4", "6.1.0-13-amd64": "6.1.0-13-amd64",
		"5.14.0-284.el9.x86_64": "5.14.0-284.el9.x86_64", "6.1.0é": "6.1.0_", "": "",
	} {
		if got := NormalizeVersion(in); got != want {
			t.Errorf("NormalizeVersion(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestNodeKernel(t *testing.T) {
	cases := []struct {
		in   string
		keep bool
		want string
	}{
		{"5.10.123+", false, "5.10.123"},
		{"5.10.123+", true, "5.10.123+"},
		{"5.10.123++", false, "5.10.123+"},
		{"6.1.0-13-amd64", false, "6.1.0-13-amd64"},
	}
	for _, c := range cases {
		if got := NodeKernel(c.in, c.keep); got != c.want {
			t.Errorf("NodeKernel(%q, %v) = %q; want %q", c.in, c.keep, got, c.want)
		}
	}
}

func TestKernelVars(t *testing.T) {
	got, err := KernelVars("5.14.0-284.11.1.el9_2.x86_64")
	want := []string{
		"KERNEL_FULL_VERSION=5.14.0-284.11.1.el9_2.x86_64", "KERNEL_VERSION=5.14.0-284.11.1.el9_2.x86_64",
		"KERNEL_XYZ=5.14.0", "KERNEL_X=5", "KERNEL_Y=14", "KERNEL_Z=0",
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("KernelVars = %q, %v", got, err)
	}
	// The normalised version is split: "+" has become "_".
	got, _ = KernelVars("1.2.3+4")
	if got[0] != "KERNEL_FULL_VERSION=1.2.3_4" || got[2] != "KERNEL_XYZ=1.2.3_4" || got[5] != "KERNEL_Z=3_4" {
		t.Fatalf("KernelVars(1.2.3+4) = %q", got)
	}
	// Normalising turns "," into "_" before the split.
	for _, bad := range []string{"", "6", "6.1", "6-1", "6,1,0"} {
		if _, err := KernelVars(bad); !errors.Is(err, ErrBadVersion) {
			t.Errorf("KernelVars(%q): %v", bad, err)
		}
	}
}

func TestSubstitute(t *testing.T) {
	vars, err := KernelVars("6.1.0-13-amd64")
	if err != nil {
		t.Fatal(err)
	}
	vars = append(vars, "MOD_NAME=ice", "MOD_NAMESPACE=drivers")
	cases := map[string]string{
		"quay.io/$MOD_NAMESPACE/$MOD_NAME:$KERNEL_FULL_VERSION":          "quay.io/drivers/ice:6.1.0-13-amd64",
		"r/${MOD_NAME}-${KERNEL_XYZ}:v${KERNEL_X}.${KERNEL_Y}.$KERNEL_Z": "r/ice-6.1.0:v6.1.0",
		"r/x:${UNSET:-fallback}":                                         "r/x:fallback",
		"r/x:${KERNEL_X:-fallback}":                                      "r/x:6",
		"r/x:$UNSET":                                                     "r/x:",
		"r/x:${KERNEL_XY}":                                               "r/x:",
		"plain":                                                          "plain",
	}
	for in, want := range cases {
		if got, err := Substitute(in, vars); err != nil || got != want {
			t.Errorf("Substitute(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Substitute("r/x:${MOD_NAME", vars); err == nil {
		t.Error("an unclosed ${ was accepted")
	}
}
