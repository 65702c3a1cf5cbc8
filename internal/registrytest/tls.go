package registrytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority made for one test, to sign a registry's
// TLS certificate.
type CA struct {
	// CertPEM is the authority's certificate in PEM, a CA bundle of one.
	CertPEM []byte

	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA returns a fresh certificate authority (ECDSA P-256, valid for a
// day).
func NewCA(tb testing.TB) *CA {
	tb.Helper()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "registrytest CA"},
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	key, der := certify(tb, tmpl, nil)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	return &CA{CertPEM: pemBlock("CERTIFICATE", der), cert: cert, key: key}
}

// certify gives tmpl a fresh ECDSA P-256 key, a serial number and a day
// of validity, and returns the key and the certificate signed by ca, or
// self-signed when ca is nil.
func certify(tb testing.TB, tmpl *x509.Certificate, ca *CA) (*ecdsa.PrivateKey, []byte) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	return key, der
}

// WriteBundle writes the authority's certificate to a file of tb's and
// returns its path.
func (ca *CA) WriteBundle(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "ca-bundle.crt")
	if err := os.WriteFile(path, ca.CertPEM, 0o644); err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	return path
}

// issue returns a server certificate and key in PEM for 127.0.0.1 and
// localhost, signed by ca.
func (ca *CA) issue(tb testing.TB) (certPEM, keyPEM []byte) {
	tb.Helper()
	key, der := certify(tb, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "127.0.0.1"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:    []string{"localhost"},
	}, ca)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	return pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER)
}

// pemBlock encodes der as a PEM block of type typ.
func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// StartTLS is Start with the registry serving HTTPS only, with a
// certificate for 127.0.0.1 signed by ca: a client that does not trust
// ca fails its handshake. Push still works (it does not verify).
func StartTLS(tb testing.TB, ca *CA) *Registry {
	tb.Helper()
	certPEM, keyPEM := ca.issue(tb)
	dir := tb.TempDir()
	t := &tlsFiles{cert: filepath.Join(dir, "server.crt"), key: filepath.Join(dir, "server.key")}
	if err := os.WriteFile(t.cert, certPEM, 0o644); err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	if err := os.WriteFile(t.key, keyPEM, 0o600); err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	return startWith(tb, t)
}

// tlsFiles are the certificate and key files of a registry serving
// HTTPS.
type tlsFiles struct{ cert, key string }

// config returns the http.tls section of the registry's configuration.
func (t *tlsFiles) config() string {
	if t == nil {
		return ""
	}
	return "  tls:\n    certificate: " + t.cert + "\n    key: " + t.key + "\n"
}

// scheme returns the registry's URL scheme.
func (t *tlsFiles) scheme() string {
	if t == nil {
		return "http"
	}
	return "https"
}

// client returns the HTTP client that talks to the registry itself:
// over TLS, it does not verify (it knows the registry by its idHeader).
func (t *tlsFiles) client(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if t != nil {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	return &http.Client{Timeout: timeout, Transport: tr}
}
