package registrytest_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/internal/registrytest"
)

// A registry of StartTLS answers over HTTPS with a certificate its CA
// signed: a client trusting the CA gets through, one trusting only the
// system's authorities does not, and Push works.
func TestStartTLS(t *testing.T) {
	ca := registrytest.NewCA(t)
	r := registrytest.StartTLS(t, ca)
	img := registrytest.Image(t, []registrytest.Entry{{Name: "f", Data: []byte("x")}})
	require.NotEmpty(t, r.Push(t, "repo", "v1", img))

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(ca.CertPEM))
	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := trusting.Get("https://" + r.Host + "/v2/repo/tags/list")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	_, err = http.Get("https://" + r.Host + "/v2/")
	var unknown x509.UnknownAuthorityError
	require.ErrorAs(t, err, &unknown)

	other := x509.NewCertPool()
	other.AppendCertsFromPEM(registrytest.NewCA(t).CertPEM)
	_, err = (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: other}}}).Get("https://" + r.Host + "/v2/")
	require.True(t, errors.As(err, &unknown), "a CA of another test: %v", err)
}
