package kmodimage_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/internal/registrytest"
	"github.com/gokmod/modprobe/kmodimage"
)

// A registry over TLS whose certificate a test CA signed (Debian's
// docker-registry): the pull fails as untrusted without the CA, and
// succeeds with the CA bundle or with insecureSkipTLSVerify.
func TestPullRegistryTLS(t *testing.T) {
	ca := registrytest.NewCA(t)
	r := registrytest.StartTLS(t, ca)
	ref := r.Push(t, "kmod", "v1", registrytest.Image(t, baseLayer()))
	bundle := ca.WriteBundle(t)
	pool, err := kmodimage.LoadCABundle(bundle)
	require.NoError(t, err)

	pull := func(t *testing.T, po kmodimage.PullOptions) (string, error) {
		return kmodimage.PullExtract(t.Context(), ref, t.TempDir(), kmodimage.PullExtractOptions{Pull: po, Extract: opts()})
	}
	t.Run("no bundle: unknown authority", func(t *testing.T) {
		_, err := pull(t, kmodimage.PullOptions{})
		require.ErrorIs(t, err, kmodimage.ErrUntrustedRegistry)
		var unknown x509.UnknownAuthorityError
		require.ErrorAs(t, err, &unknown)
		require.ErrorContains(t, err, r.Host)
	})
	t.Run("another CA's bundle: unknown authority", func(t *testing.T) {
		other, err := kmodimage.LoadCABundle(registrytest.NewCA(t).WriteBundle(t))
		require.NoError(t, err)
		_, err = pull(t, kmodimage.PullOptions{RootCAs: other})
		require.ErrorIs(t, err, kmodimage.ErrUntrustedRegistry)
	})
	t.Run("the CA bundle", func(t *testing.T) {
		dir, err := pull(t, kmodimage.PullOptions{RootCAs: pool})
		require.NoError(t, err)
		require.FileExists(t, filepath.Join(dir, kdir, "extra/good.ko"))
	})
	t.Run("insecureSkipTLSVerify", func(t *testing.T) {
		dir, err := pull(t, kmodimage.PullOptions{InsecureSkipTLSVerify: true})
		require.NoError(t, err)
		require.FileExists(t, filepath.Join(dir, kdir, "extra/good.ko"))
	})
}

// A CA bundle that holds no certificate, or a broken one, is refused
// with ErrCABundle naming the file; a missing file with its error.
func TestLoadCABundleBad(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty":    "",
		"no pem":   "not a certificate\n",
		"key only": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		"broken":   "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
			_, err := kmodimage.LoadCABundle(path)
			require.ErrorIs(t, err, kmodimage.ErrCABundle)
			require.ErrorContains(t, err, path)
		})
	}
	_, err := kmodimage.LoadCABundle(filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
}
