package sign_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/internal/elfmod"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/sign"
	"github.com/gokmod/modprobe/sign/signzstd"
)

// TestSignVerifyRoundTrip: every key kind, hash and signer identifier
// gives a module Verify accepts with its certificate and modinfo's trailer
// parser reads (signer, serial, hash).
func TestSignVerifyRoundTrip(t *testing.T) {
	module := fakeModule(t, 70000)
	for i, kind := range []string{"rsa2048", "p256", "p384"} {
		k := newTestKey(t, kind, int64(100+i))
		other := newTestKey(t, kind, int64(200+i))
		for _, hashName := range []string{"sha256", "sha384", "sha512"} {
			for _, byKeyID := range []bool{false, true} {
				hash, err := sign.ParseHash(hashName)
				require.NoError(t, err)
				s, err := sign.NewSigner(k.key, k.cert, hash, byKeyID)
				require.NoError(t, err)
				signed, err := s.Sign(module)
				require.NoError(t, err)
				require.Equal(t, module, signed[:len(module)], "the module comes first, untouched")
				got, err := sign.Verify(signed, []*x509.Certificate{other.cert, k.cert})
				require.NoError(t, err, "%s %s keyid=%v", kind, hashName, byKeyID)
				assert.Equal(t, k.cert, got)
				if !byKeyID { // modinfo's parser reads issuer-and-serial signers
					info, ok := elfmod.ParseSignature(signed)
					require.True(t, ok)
					assert.Equal(t, hashName, info.HashAlgo)
					assert.Equal(t, k.cert.Subject.CommonName, info.Signer)
					assert.Equal(t, k.cert.SerialNumber.Bytes(), info.KeyID)
				}
			}
		}
	}
}

// TestSignTwiceAppends: like sign-file, signing a signed module appends
// a second signature, the one the kernel checks, over the first.
func TestSignTwiceAppends(t *testing.T) {
	k := newTestKey(t, "p256", 7)
	s, err := sign.NewSigner(k.key, k.cert, crypto.SHA256, false)
	require.NoError(t, err)
	module := fakeModule(t, 5000)
	once, err := s.Sign(module)
	require.NoError(t, err)
	twice, err := s.Sign(once)
	require.NoError(t, err)
	require.Equal(t, once, twice[:len(once)])
	_, err = sign.Verify(twice, []*x509.Certificate{k.cert})
	require.NoError(t, err)
}

// TestSignCompressed: gzip, xz and zstd modules come back in their format,
// the decompressed image signed as the plain module would be, and the
// compressed file verifies.
func TestSignCompressed(t *testing.T) {
	k := newTestKey(t, "rsa2048", 9)
	s, err := sign.NewSigner(k.key, k.cert, crypto.SHA512, false)
	require.NoError(t, err)
	module := fakeModule(t, 40000)
	plain, err := s.Sign(module)
	require.NoError(t, err)
	for _, c := range []testmod.Compression{testmod.Gzip, testmod.Xz, testmod.Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			file := testmod.MustCompress(t, module, c)
			signed, sd, err := s.SignFile(file, sign.Options{Zstd: signzstd.Compress})
			require.NoError(t, err)
			require.Equal(t, file[:2], signed[:2], "same format (magic)")
			image, err := sign.Image(signed, 0)
			require.NoError(t, err)
			require.Equal(t, plain, image, "RSA signs deterministically")
			require.True(t, bytes.Contains(image, sd))
			_, err = sign.Verify(signed, []*x509.Certificate{k.cert})
			require.NoError(t, err)
		})
	}
	_, _, err = s.SignFile(testmod.MustCompress(t, module, testmod.Zstd), sign.Options{})
	require.ErrorIs(t, err, sign.ErrZstdWriter)
}

// TestAppendRawSignature: -s appends a given signature with a trailer
// that describes its length.
func TestAppendRawSignature(t *testing.T) {
	module := fakeModule(t, 300)
	sig := []byte("some signature bytes")
	out := sign.Append(module, sig)
	trailer := out[len(module)+len(sig):]
	require.Len(t, trailer, 12+len(elfmod.SignatureMagic))
	assert.Equal(t, []byte{0, 0, 2, 0, 0, 0, 0, 0}, trailer[:8])
	assert.Equal(t, uint32(len(sig)), binary.BigEndian.Uint32(trailer[8:12]))
	assert.Equal(t, elfmod.SignatureMagic, string(trailer[12:]))
}

// TestVerifyFailures: each broken module fails with the error of the step
// that catches it.
func TestVerifyFailures(t *testing.T) {
	k := newTestKey(t, "rsa2048", 11)
	ec := newTestKey(t, "p384", 12)
	wrong := newTestKey(t, "rsa2048", 13)
	module := fakeModule(t, 9000)
	for _, tk := range []testKey{k, ec} {
		s, err := sign.NewSigner(tk.key, tk.cert, crypto.SHA256, false)
		require.NoError(t, err)
		signed, err := s.Sign(module)
		require.NoError(t, err)
		sigStart := len(module)
		trailerStart := len(signed) - 12 - len(elfmod.SignatureMagic)
		edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(signed)) }
		cases := []struct {
			name  string
			file  []byte
			certs []*x509.Certificate
			want  error
		}{
			{"corrupted signature", edit(func(b []byte) []byte { b[trailerStart-5] ^= 1; return b }), nil, sign.ErrBadSignature},
			{"module changed after signing", edit(func(b []byte) []byte { b[100] ^= 0x40; return b }), nil, sign.ErrBadSignature},
			{"wrong certificate", signed, []*x509.Certificate{wrong.cert}, sign.ErrNoSigner},
			{"no certificates", signed, []*x509.Certificate{}, sign.ErrNoSigner},
			{"unsigned", module, nil, sign.ErrNotSigned},
			{"bad magic", edit(func(b []byte) []byte { b[len(b)-3] = 'X'; return b }), nil, sign.ErrNotSigned},
			{"truncated trailer", []byte("\x00\x02\x00" + elfmod.SignatureMagic), nil, sign.ErrTrailer},
			{"signature longer than module", edit(func(b []byte) []byte { binary.BigEndian.PutUint32(b[trailerStart+8:], uint32(len(b))); return b }), nil, sign.ErrTrailer},
			{"nonzero hash field", edit(func(b []byte) []byte { b[trailerStart+1] = 4; return b }), nil, sign.ErrTrailer},
			{"X509 id type", edit(func(b []byte) []byte { b[trailerStart+2] = 1; return b }), nil, sign.ErrNotPKCS7},
			{"garbage PKCS#7", edit(func(b []byte) []byte { b[sigStart] = 0x31; return b }), nil, sign.ErrMalformed},
		}
		for _, c := range cases {
			t.Run(tk.name+"/"+c.name, func(t *testing.T) {
				certs := c.certs
				if certs == nil {
					certs = []*x509.Certificate{tk.cert}
				}
				_, err := sign.Verify(c.file, certs)
				require.ErrorIs(t, err, c.want)
				for _, other := range []error{sign.ErrBadSignature, sign.ErrNoSigner, sign.ErrNotSigned, sign.ErrTrailer, sign.ErrNotPKCS7, sign.ErrMalformed, sign.ErrRejected, sign.ErrAlgorithm} {
					if other != c.want {
						require.NotErrorIs(t, err, other)
					}
				}
			})
		}
	}
}

// TestParsePrivateKey: the forms of key file sign-file reads, and the
// refusals, each with its error.
func TestParsePrivateKey(t *testing.T) {
	k := newTestKey(t, "p256", 21)
	combined := append(bytes.Clone(k.certPEM), k.keyPEM...)
	key, err := sign.ParsePrivateKey(combined, nil)
	require.NoError(t, err, "a key after a certificate in one PEM file")
	require.True(t, key.(*ecdsa.PrivateKey).Equal(k.key))
	cert, err := sign.ParseCertificate(combined)
	require.NoError(t, err)
	require.Equal(t, k.cert.Raw, cert.Raw)
	cert, err = sign.ParseCertificate(k.cert.Raw)
	require.NoError(t, err, "DER certificate")
	require.Equal(t, k.cert.Raw, cert.Raw)

	block, _ := pem.Decode(k.keyPEM)
	key, err = sign.ParsePrivateKey(block.Bytes, nil)
	require.NoError(t, err, "DER key")
	require.True(t, key.(*ecdsa.PrivateKey).Equal(k.key))

	sec1, err := x509.MarshalECPrivateKey(k.key.(*ecdsa.PrivateKey))
	require.NoError(t, err)
	//lint:ignore SA1019 legacy PEM encryption is the encrypted form ParsePrivateKey reads
	enc, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", sec1, []byte("pin 1234"), x509.PEMCipherAES256)
	require.NoError(t, err)
	encPEM := pem.EncodeToMemory(enc)
	key, err = sign.ParsePrivateKey(encPEM, []byte("pin 1234"))
	require.NoError(t, err)
	require.True(t, key.(*ecdsa.PrivateKey).Equal(k.key))
	_, err = sign.ParsePrivateKey(encPEM, nil)
	require.ErrorIs(t, err, sign.ErrPassphrase)
	_, err = sign.ParsePrivateKey(encPEM, []byte("wrong"))
	require.ErrorIs(t, err, sign.ErrPassphrase)

	_, err = sign.ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}}), []byte("x"))
	require.ErrorIs(t, err, sign.ErrNoKey)
	_, err = sign.ParsePrivateKey(k.certPEM, nil)
	require.ErrorIs(t, err, sign.ErrNoKey)
	_, err = sign.ParseCertificate(k.keyPEM)
	require.ErrorIs(t, err, sign.ErrNoCert)

	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	ed8, err := x509.MarshalPKCS8PrivateKey(edKey)
	require.NoError(t, err)
	_, err = sign.ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ed8}), nil)
	require.ErrorIs(t, err, sign.ErrKeyType)

	other := newTestKey(t, "p256", 22)
	_, err = sign.NewSigner(k.key, other.cert, crypto.SHA256, false)
	require.ErrorIs(t, err, sign.ErrKeyMismatch)
	_, err = sign.ParseHash("md5")
	require.ErrorIs(t, err, sign.ErrHash)
}
