package kmodimage

import (
	"errors"
	"reflect"
	"testing"
)

func TestFindMapping(t *testing.T) {
	mappings := []KernelMapping{
		{Literal: "6.1.0-13-amd64"},
		{Regexp: `^5\.14\.0-284\.`},
		{Regexp: `el9`},    // unanchored: matches anywhere
		{Regexp: `.+`},     // catch-all
		{Literal: "never"}, // after the catch-all
	}
	cases := map[string]int{
		"6.1.0-13-amd64":          0,
		"5.14.0-284.11.1.el9_2":   1,
		"5.14.0-362.el9.x86_64":   2,
		"6.5.0":                   3,
		"never":                   3,
		"6.1.0-13-amd64-and-more": 3,
	}
	for kernel, want := range cases {
		if got, err := FindMapping(mappings, kernel); err != nil || got != want {
			t.Errorf("FindMapping(%q) = %d, %v; want %d", kernel, got, err, want)
		}
	}
	if _, err := FindMapping(mappings[:2], "6.5.0"); !errors.Is(err, ErrNoMapping) {
		t.Errorf("no match: %v", err)
	}
	if _, err := FindMapping([]KernelMapping{{Literal: "a"}, {Regexp: "(unclosed"}}, "b"); err == nil || errors.Is(err, ErrNoMapping) {
		t.Errorf("bad regexp: %v", err)
	}
	// A literal that differs does not stop its own regexp from matching.
	if got, err := FindMapping([]KernelMapping{{Literal: "x", Regexp: "^6"}}, "6.1"); err != nil || got != 0 {
		t.Errorf("literal and regexp: %d, %v", got, err)
	}
}

func TestResolve(t *testing.T) {
	module := KernelMapping{ContainerImage: "reg/$MOD_NAMESPACE/$MOD_NAME:${KERNEL_FULL_VERSION}", InTreeModulesToRemove: []string{"ice"}}
	mappings := []KernelMapping{
		{Literal: "5.10.123", ContainerImage: "cos/$MOD_NAME:$KERNEL_XYZ", InTreeModuleToRemove: "irdma"},
		{Regexp: `^6\.`},
		{Regexp: `^7\.`, InTreeModulesToRemove: []string{}},
	}
	// GKE's COS: the "+" is trimmed before matching; substitution uses the
	// normalised version.
	r, err := Resolve(mappings, module, Target{Release: "5.10.123+", ModName: "ice", ModNamespace: "drv"})
	if err != nil || !reflect.DeepEqual(r, Resolved{Mapping: 0, KernelVersion: "5.10.123", ContainerImage: "cos/ice:5.10.123", InTreeModulesToRemove: []string{"irdma"}}) {
		t.Fatalf("COS: %+v, %v", r, err)
	}
	// Keeping the "+" misses the literal.
	if _, err := Resolve(mappings, module, Target{Release: "5.10.123+", KeepPlus: true}); !errors.Is(err, ErrNoMapping) {
		t.Fatalf("KeepPlus: %v", err)
	}
	r, err = Resolve(mappings, module, Target{Release: "6.1.0-13-amd64", ModName: "ice", ModNamespace: "drv"})
	if err != nil || !reflect.DeepEqual(r, Resolved{Mapping: 1, KernelVersion: "6.1.0-13-amd64", ContainerImage: "reg/drv/ice:6.1.0-13-amd64", InTreeModulesToRemove: []string{"ice"}}) {
		t.Fatalf("default image: %+v, %v", r, err)
	}
	// A mapping's empty list overrides the Module's.
	r, err = Resolve(mappings, module, Target{Release: "7.0.1"})
	if err != nil || len(r.InTreeModulesToRemove) != 0 {
		t.Fatalf("empty override: %+v, %v", r, err)
	}
	if _, err := Resolve(mappings, KernelMapping{}, Target{Release: "6.1.0"}); err == nil {
		t.Fatal("no image anywhere was accepted")
	}
	if _, err := Resolve([]KernelMapping{{Regexp: "."}}, module, Target{Release: "6"}); !errors.Is(err, ErrBadVersion) {
		t.Fatalf("short version: %v", err)
	}
}
