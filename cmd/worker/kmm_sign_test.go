package main

import (
	"bytes"
	"compress/gzip"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/internal/registrytest"
	"github.com/gokmod/modprobe/internal/signtest"
	"github.com/gokmod/modprobe/kmodimage"
	"github.com/gokmod/modprobe/modprobetest"
	"github.com/gokmod/modprobe/sign"
)

// gzipped returns b compressed with gzip.
func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// kmm sign against registries on loopback: over plain HTTP with
// --insecure, the files named as KMM names them; over TLS, refused
// without the CA and signed with --registry-ca; the pushed image's signed
// files verify with the certificate. Bad command lines name what is
// missing.
func TestKMMSign(t *testing.T) {
	k := modprobetest.NewKernel(t)
	key := signtest.New(t, signtest.RSA2048, t.TempDir())
	modDir := "opt/lib/modules/" + fakeRelease + "/extra/"
	img := registrytest.Image(t, []registrytest.Entry{
		{Name: modDir + "m.ko", Data: []byte("\x7fELF module m")},
		{Name: modDir + "n.ko.gz", Data: gzipped(t, []byte("\x7fELF module n"))},
		{Name: modDir + "o.ko", Data: []byte("\x7fELF module o")},
	})
	files := []string{"/opt/lib/modules/${KERNEL_FULL_VERSION}/extra/m.ko", "/opt/lib/modules/${KERNEL_FULL_VERSION}/extra/n.ko.gz"}
	signArgs := func(ref, dest string, extra ...string) []string {
		args := []string{"kmm", "sign", "--image", ref, "--dest", dest, "--key", key.KeyFile, "--cert", key.CertFile, "--kernel", fakeRelease}
		return append(append(args, extra...), files...)
	}
	check := func(t *testing.T, signedRef string, pull kmodimage.PullOptions) {
		t.Helper()
		signed, err := kmodimage.OpenImage(t.Context(), signedRef, pull)
		require.NoError(t, err)
		dir := t.TempDir()
		require.NoError(t, kmodimage.Extract(t.Context(), signed, dir, kmodimage.ExtractOptions{KernelVersion: fakeRelease}))
		for _, f := range []string{"m.ko", "n.ko.gz"} {
			data, err := os.ReadFile(filepath.Join(dir, modDir, f))
			require.NoError(t, err)
			_, err = sign.Verify(data, []*x509.Certificate{key.Cert})
			assert.NoError(t, err, f)
		}
		data, err := os.ReadFile(filepath.Join(dir, modDir, "o.ko"))
		require.NoError(t, err)
		assert.Equal(t, "\x7fELF module o", string(data), "a file not listed is unchanged")
	}

	reg := registrytest.Start(t)
	ref := reg.Push(t, "kmod/unsigned", "v1", img)
	o := runFake(k, "gokmod", signArgs(ref, reg.Host+"/kmod/signed:v1", "--insecure")...)
	require.Equal(t, 0, o.Code, o.String())
	require.True(t, strings.HasPrefix(o.Stdout, reg.Host+"/kmod/signed@sha256:"), o.Stdout)
	check(t, strings.TrimSpace(o.Stdout), kmodimage.PullOptions{Insecure: true})

	ca := registrytest.NewCA(t)
	tlsReg := registrytest.StartTLS(t, ca)
	tlsRef := tlsReg.Push(t, "kmod/unsigned", "v1", img)
	o = runFake(k, "gokmod", signArgs(tlsRef, tlsReg.Host+"/kmod/signed:v1")...)
	require.Equal(t, 1, o.Code, o.String())
	require.Contains(t, o.Stderr, "registry certificate not trusted")
	bundle := ca.WriteBundle(t)
	o = runFake(k, "gokmod", signArgs(tlsRef, tlsReg.Host+"/kmod/signed:v1", "--registry-ca", bundle)...)
	require.Equal(t, 0, o.Code, o.String())
	pool, err := kmodimage.LoadCABundle(bundle)
	require.NoError(t, err)
	check(t, strings.TrimSpace(o.Stdout), kmodimage.PullOptions{RootCAs: pool})

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"kmm", "sign", "--image", ref, "--dest", ref, "--key", key.KeyFile, "--cert", key.CertFile}, "kmm: sign takes the files to sign (KMM's filesToSign)\n"},
		{[]string{"kmm", "sign", "--image", ref, "--key", key.KeyFile, "--cert", key.CertFile, "/x.ko"}, "kmm: sign needs --image, --dest, --key and --cert\n"},
		{[]string{"kmm", "sign", "--image", ref, "--dest", ref, "--key", key.CertFile, "--cert", key.CertFile, "/x.ko"}, "kmm: " + key.CertFile + ": "},
		{[]string{"kmm", "sign", "--image", ref, "--dest", ref, "--key", key.KeyFile, "--cert", key.CertFile, "--hash", "md5", "/x.ko"}, "md5"},
		{[]string{"kmm", "sign", "--image", ref, "--dest", reg.Host + "/kmod/x:v1", "--key", key.KeyFile, "--cert", key.CertFile, "--insecure", "/opt/absent.ko"}, "/opt/absent.ko: not in the image"},
	} {
		o := runFake(k, "worker", c.args...)
		assert.Equal(t, 1, o.Code, o.String())
		assert.Contains(t, o.Stderr, c.msg)
	}
}
