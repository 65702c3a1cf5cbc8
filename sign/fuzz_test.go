package sign_test

import (
	"crypto"
	"crypto/x509"
	"testing"

	"github.com/gokmod/modprobe/sign"
)

// FuzzVerify: whatever the module's bytes, Verify returns a verdict,
// never panics, and accepts only what the certificate's key signed.
func FuzzVerify(f *testing.F) {
	k := newTestKey(f, "p256", 5)
	s, err := sign.NewSigner(k.key, k.cert, crypto.SHA256, false)
	if err != nil {
		f.Fatal(err)
	}
	module := []byte("\x7fELF a module")
	signed, err := s.Sign(module)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add(sign.Append(module, []byte{0x30, 0x80, 0, 0}))
	f.Add([]byte("~Module signature appended~\n"))
	certs := []*x509.Certificate{k.cert}
	f.Fuzz(func(t *testing.T, file []byte) {
		if _, err := sign.Verify(file, certs); err == nil && len(file) < len(signed)-4 {
			t.Fatalf("Verify accepted %d bytes, shorter than any signature", len(file))
		}
	})
}

// FuzzParsePrivateKey: key files of any content give a key or an error.
func FuzzParsePrivateKey(f *testing.F) {
	k := newTestKey(f, "rsa2048", 6)
	f.Add(k.keyPEM, []byte("pin"))
	f.Add(append(k.certPEM, k.keyPEM...), []byte(nil))
	f.Add([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n"), []byte("x"))
	f.Fuzz(func(t *testing.T, data, pin []byte) {
		_, _ = sign.ParsePrivateKey(data, pin)
		_, _ = sign.ParseCertificate(data)
	})
}
