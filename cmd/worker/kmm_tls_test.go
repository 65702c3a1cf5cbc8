package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/internal/registrytest"
)

// kmm load --pull and kmm pull from a registry over TLS whose
// certificate a test CA signed: refused without the CA, loaded with
// --registry-ca, or with the configuration's
// registryTLS.insecureSkipTLSVerify; kmm pull with
// --insecure-skip-tls-verify.
func TestKMMRegistryTLS(t *testing.T) {
	k, host, shared, _ := kmmNode(t)
	ca := registrytest.NewCA(t)
	reg := registrytest.StartTLS(t, ca)
	ref := reg.Push(t, "drivers/oot", fakeRelease, registrytest.ImageFromDir(t, shared))
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, cfg, "kernelVersion: "+fakeRelease+"\ncontainerImage: "+ref+"\nmodprobe:\n  moduleName: oot_main\n")
	load := func(cfg string, extra ...string) outcome {
		return runFake(k, "worker", append([]string{"kmod", "load", cfg, "--pull", "--shared-dir", t.TempDir(), "--host-root", host, "--kernel", fakeRelease}, extra...)...)
	}

	o := load(cfg)
	require.Equal(t, 1, o.Code, o.String())
	require.Contains(t, o.Stderr, "registry certificate not trusted")
	require.Contains(t, o.Stderr, "certificate signed by unknown authority")
	require.False(t, k.IsLive("oot_main"))

	o = load(cfg, "--registry-ca", ca.WriteBundle(t))
	require.Equal(t, 0, o.Code, o.String())
	require.True(t, k.IsLive("oot_main"))
	require.NoError(t, k.DeleteModule("oot_main", 0))

	skip := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, skip, "kernelVersion: "+fakeRelease+"\ncontainerImage: "+ref+"\nregistryTLS:\n  insecureSkipTLSVerify: true\nmodprobe:\n  moduleName: oot_main\n")
	o = load(skip)
	require.Equal(t, 0, o.Code, o.String())
	require.True(t, k.IsLive("oot_main"))

	pull := func(extra ...string) outcome {
		return runFake(k, "kmm", append([]string{"pull", "--image", ref, "--kernel", fakeRelease, "--dir", t.TempDir()}, extra...)...)
	}
	require.Contains(t, pull().Stderr, "registry certificate not trusted")
	require.Equal(t, 0, pull("--insecure-skip-tls-verify").Code)
	require.Equal(t, 0, pull("--registry-ca", ca.WriteBundle(t)).Code)

	bad := filepath.Join(t.TempDir(), "bad.pem")
	writeFile(t, bad, "no certificate\n")
	o = pull("--registry-ca", bad)
	require.Equal(t, "kmm: CA bundle "+bad+": invalid CA bundle: no PEM certificate\n", o.Stderr)
	o = runFake(k, "kmm", "load", cfg, "--registry-ca", bad, "--host-root", host, "--kernel", fakeRelease, "--shared-dir", shared)
	require.Equal(t, "kmm: load takes --registry-ca only with load --pull: without it, it pulls nothing\n", o.Stderr)
	o = runFake(k, "kmm", "load", cfg, "--pull", "--insecure-skip-tls-verify")
	require.True(t, strings.HasSuffix(o.Stderr, "the configuration's registryTLS says it\n"), o.String())
}
