package sign_test

import (
	"crypto"
	"crypto/x509"
	"testing"

	"github.com/gokmod/modprobe/sign"
)

// BenchmarkSign signs a 1 MiB module: the digest and one private-key
// operation, per key kind.
func BenchmarkSign(b *testing.B) {
	module := fakeModule(b, 1<<20)
	for _, kind := range []string{"rsa2048", "p256", "p384"} {
		k := newTestKey(b, kind, 1)
		s, err := sign.NewSigner(k.key, k.cert, crypto.SHA256, false)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(kind, func(b *testing.B) {
			b.SetBytes(int64(len(module)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(module); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify verifies a signed 1 MiB module.
func BenchmarkVerify(b *testing.B) {
	module := fakeModule(b, 1<<20)
	for _, kind := range []string{"rsa2048", "p256"} {
		k := newTestKey(b, kind, 1)
		s, err := sign.NewSigner(k.key, k.cert, crypto.SHA256, false)
		if err != nil {
			b.Fatal(err)
		}
		signed, err := s.Sign(module)
		if err != nil {
			b.Fatal(err)
		}
		certs := []*x509.Certificate{k.cert}
		b.Run(kind, func(b *testing.B) {
			b.SetBytes(int64(len(signed)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sign.Verify(signed, certs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
