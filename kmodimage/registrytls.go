package kmodimage

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/gokmod/modprobe/internal/fileio"
)

// ErrUntrustedRegistry reports a registry whose TLS certificate does not
// verify: signed by an authority neither the system nor
// PullOptions.RootCAs trusts, expired, or for another name. The error
// wraps the x509 error too.
var ErrUntrustedRegistry = errors.New("registry certificate not trusted")

// ErrCABundle reports a CA bundle that holds no certificate, or one that
// does not parse.
var ErrCABundle = errors.New("invalid CA bundle")

// MaxCABundleSize is the largest CA bundle LoadCABundle reads: a system
// bundle of every public authority is about 200 KiB.
const MaxCABundleSize = 4 << 20

// LoadCABundle returns the certificate pool for PullOptions.RootCAs: the
// system's authorities and the PEM certificates of the files at paths
// (as KMM users mount a bundle from a ConfigMap or Secret). Each file is
// read no further than MaxCABundleSize bytes; one that is larger, holds
// no CERTIFICATE block or a certificate that does not parse fails with
// an error wrapping ErrCABundle and naming the file.
func LoadCABundle(paths ...string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	for _, path := range paths {
		if err := addCABundle(pool, path); err != nil {
			return nil, err
		}
	}
	return pool, nil
}

// addCABundle adds the certificates of the PEM file at path to pool.
func addCABundle(pool *x509.CertPool, path string) error {
	data, err := fileio.ReadInput(path, MaxCABundleSize)
	if errors.Is(err, fileio.ErrTooLarge) {
		return fmt.Errorf("CA bundle %s: %w: more than %d bytes", path, ErrCABundle, MaxCABundleSize)
	}
	if err != nil {
		return fmt.Errorf("CA bundle %s: %w", path, err)
	}
	n := 0
	for len(data) > 0 {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return fmt.Errorf("CA bundle %s: %w: certificate %d: %w", path, ErrCABundle, n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return fmt.Errorf("CA bundle %s: %w: no PEM certificate", path, ErrCABundle)
	}
	return nil
}

// untrusted wraps err in ErrUntrustedRegistry when it is a certificate
// verification failure of host.
func untrusted(err error, host string) error {
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		verify   *tls.CertificateVerificationError
	)
	if errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &hostname) || errors.As(err, &verify) {
		return fmt.Errorf("%s: %w (give its authority with a CA bundle, or skip the check with insecureSkipTLSVerify): %w", host, ErrUntrustedRegistry, err)
	}
	return err
}
