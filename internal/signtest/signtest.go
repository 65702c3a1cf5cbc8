// Package signtest makes module-signing keys for tests: a fresh key and a
// self-signed certificate that no kernel trusts, written as PEM files the
// way KMM mounts its key and certificate secrets and sign-file reads them.
package signtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Key is a signing key and its certificate, in memory and as files.
type Key struct {
	Signer   crypto.Signer
	Cert     *x509.Certificate
	KeyFile  string // PKCS#8 PEM
	CertFile string // PEM
}

// Kinds of key New makes.
const (
	RSA2048 = "rsa2048"
	P384    = "p384"
)

// New makes a key of kind (RSA2048 or P384) and a self-signed
// certificate for it with a subject key identifier, as the kernel's
// x509.genkey asks for, and writes them to dir as KIND.key and KIND.crt.
func New(tb testing.TB, kind, dir string) Key {
	tb.Helper()
	var key crypto.Signer
	var err error
	switch kind {
	case RSA2048:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case P384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		tb.Fatalf("signtest: unknown key kind %q", kind)
	}
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		tb.Fatal(err)
	}
	skid := sha1.Sum(pub)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "gokmod test signing key " + kind, Organization: []string{"gokmod"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		SubjectKeyId:          skid[:],
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pk8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	k := Key{Signer: key, Cert: cert, KeyFile: filepath.Join(dir, kind+".key"), CertFile: filepath.Join(dir, kind+".crt")}
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	write(k.KeyFile, "PRIVATE KEY", pk8)
	write(k.CertFile, "CERTIFICATE", der)
	return k
}
