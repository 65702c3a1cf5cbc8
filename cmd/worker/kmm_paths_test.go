package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/gokmod/modprobe/internal/registrytest"
)

// TestKMMLoadAndPullAgreeOnPaths: kmm load and kmm load --pull accept and
// refuse the same worker configurations: a dirName, firmwarePath or
// kernelVersion that could leave the shared directory is refused by both,
// with the same message, before anything changes; the good ones load
// with both.
func TestKMMLoadAndPullAgreeOnPaths(t *testing.T) {
	k, host, shared, _ := kmmNode(t)
	// The image is the shared directory's tree, in an OCI layout.
	lay := t.TempDir()
	p, err := layout.Write(lay, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(registrytest.ImageFromDir(t, shared)); err != nil {
		t.Fatal(err)
	}
	fw := filepath.Join(t.TempDir(), "fw")
	param := filepath.Join(k.SysfsDir(), "module/firmware_class/parameters/path")
	writeFile(t, param, "\n")
	write := func(kernel, modprobe string) string {
		cfg := filepath.Join(t.TempDir(), "config.yaml")
		writeFile(t, cfg, "kernelVersion: "+kernel+"\ncontainerImage: oci:"+lay+"\nmodprobe:\n  moduleName: oot_main\n"+modprobe)
		return cfg
	}
	good, refused := 0, 0
	for _, tc := range []struct {
		kernel, modprobe string
		ok               bool
	}{
		{fakeRelease, "", true},
		{fakeRelease, "  dirName: /opt\n  firmwarePath: /firmware\n", true},
		{fakeRelease, "  dirName: /opt/../../etc\n", false},
		{fakeRelease, "  dirName: /opt/\n", false},
		{fakeRelease, "  dirName: //opt\n", false},
		{fakeRelease, "  firmwarePath: /firmware/../..\n", false},
		{fakeRelease, "  firmwarePath: /\n", false},
		{fakeRelease, "  firmwarePath: /opt/lib\n", false},
		{"../" + fakeRelease, "", false},
		{"..", "", false},
		{"", "", false},
	} {
		cfg := write(tc.kernel, tc.modprobe)
		common := []string{"--host-root", host, "--kernel", fakeRelease, "--firmware-path", fw}
		inserts, removes := len(k.Inserts()), len(k.Removes())
		load := runFake(k, "kmm", append([]string{"load", cfg, "--shared-dir", shared}, common...)...)
		fresh := t.TempDir()
		pull := runFake(k, "kmm", append([]string{"load", cfg, "--pull", "--shared-dir", fresh}, common...)...)
		if tc.ok {
			if load.Code != 0 || pull.Code != 0 {
				t.Errorf("%q %q: load:\n%s\nload --pull:\n%s", tc.kernel, tc.modprobe, load, pull)
			}
			good++
			continue
		}
		if load.Code != 1 || load != pull || !strings.Contains(load.Stderr, "invalid worker configuration") {
			t.Errorf("%q %q: want the same refusal, got load:\n%s\nload --pull:\n%s", tc.kernel, tc.modprobe, load, pull)
		}
		if entries, _ := os.ReadDir(fresh); len(entries) != 0 {
			t.Errorf("%q %q: load --pull wrote %v", tc.kernel, tc.modprobe, entries)
		}
		if len(k.Inserts()) != inserts || len(k.Removes()) != removes {
			t.Errorf("%q %q: the kernel saw inserts or removals", tc.kernel, tc.modprobe)
		}
		refused++
	}
	if b, _ := os.ReadFile(param); string(b) != fw {
		t.Errorf("firmware_class.path %q", b)
	}
	t.Logf("%d configurations loaded by both, %d refused by both with the same message", good, refused)
}
