package vmtest

import (
	"slices"
	"strings"
	"testing"
)

const testDep = `kernel/a/dummy.ko:
kernel/b/ip_vs.ko: kernel/c/nf_conntrack.ko kernel/lib/libcrc32c.ko
kernel/b/ip_vs_wrr.ko: kernel/b/ip_vs.ko kernel/c/nf_conntrack.ko kernel/lib/libcrc32c.ko
kernel/c/nf_conntrack.ko: kernel/lib/libcrc32c.ko
kernel/lib/libcrc32c.ko:
kernel/crypto/crc32c_generic.ko:
kernel/x86/crc32c-intel.ko:
kernel/d/mod-dash.ko:
kernel/d/pre.ko: kernel/d/mod-dash.ko
`

const testSoftdep = `# Soft dependencies extracted from modules themselves.
softdep libcrc32c pre: crc32c
softdep mod_dash pre: pre post: missing
`

const testAlias = `alias crc32c crc32c_intel
alias crc32c crc32c_generic
alias pci:v* dummy
`

func testIndex(t *testing.T) *moduleIndex {
	t.Helper()
	var x moduleIndex
	if err := x.parseDep(strings.NewReader(testDep), "modules.dep"); err != nil {
		t.Fatal(err)
	}
	if err := x.parseSoftdep(strings.NewReader(testSoftdep), "modules.softdep"); err != nil {
		t.Fatal(err)
	}
	if err := x.parseAlias(strings.NewReader(testAlias), "modules.alias"); err != nil {
		t.Fatal(err)
	}
	return &x
}

func TestModuleClosure(t *testing.T) {
	x := testIndex(t)
	for _, tc := range []struct {
		names []string
		want  []string
	}{
		{[]string{"dummy"}, []string{"kernel/a/dummy.ko"}},
		{[]string{"ip-vs-wrr"}, []string{
			"kernel/b/ip_vs.ko", "kernel/b/ip_vs_wrr.ko", "kernel/c/nf_conntrack.ko",
			"kernel/crypto/crc32c_generic.ko", "kernel/lib/libcrc32c.ko", "kernel/x86/crc32c-intel.ko",
		}},
		// A softdep on a module that depends back on the first one, and
		// one on a name that matches nothing.
		{[]string{"mod_dash"}, []string{"kernel/d/mod-dash.ko", "kernel/d/pre.ko"}},
		{nil, []string{}},
	} {
		got, err := x.closure(tc.names, "modules.dep")
		if err != nil {
			t.Errorf("%v: %v", tc.names, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v: got %q, want %q", tc.names, got, tc.want)
		}
	}
	if _, err := x.closure([]string{"nope"}, "modules.dep"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown module: err = %v", err)
	}
}

func TestParseDepMalformed(t *testing.T) {
	var x moduleIndex
	err := x.parseDep(strings.NewReader("kernel/a.ko:\nno colon here\n"), "modules.dep")
	if err == nil || !strings.Contains(err.Error(), "modules.dep:2:") {
		t.Errorf("err = %v, want a modules.dep:2 error", err)
	}
}
