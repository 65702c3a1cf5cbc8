package kmodimage

import (
	"errors"
	"os"
	"testing"
)

// FuzzConfig checks that any worker configuration decodes to a valid
// configuration or an ErrConfig, never a panic.
func FuzzConfig(f *testing.F) {
	if data, err := os.ReadFile("testdata/worker-config.yaml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("kernelVersion: x\ncontainerImage: y\nmodprobe:\n  rawArgs: {load: [-v, m], unload: [-r, m]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "f.yaml")
		if err != nil {
			if !errors.Is(err, ErrConfig) || c != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil || c.Modprobe.DirName == "" {
			t.Fatalf("ParseConfig returned an invalid configuration: %v", err)
		}
	})
}

// FuzzResolve checks mapping, variables and substitution on any kernel
// release and image template.
func FuzzResolve(f *testing.F) {
	f.Add("5.10.123+", "reg/$MOD_NAME:${KERNEL_XYZ}", `^5\.`)
	f.Add("6.1.0-13-amd64", "reg/${X:-${KERNEL_X}}", "(")
	f.Fuzz(func(t *testing.T, release, image, re string) {
		r, err := Resolve([]KernelMapping{{Literal: release}, {Regexp: re}}, KernelMapping{ContainerImage: image}, Target{Release: release, ModName: "m"})
		if err == nil && r.KernelVersion != NodeKernel(release, false) {
			t.Fatalf("Resolve(%q) matched %q", release, r.KernelVersion)
		}
	})
}
