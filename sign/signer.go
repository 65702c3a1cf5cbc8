package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"

	"github.com/gokmod/modprobe/internal/modsig"
)

// Signer signs modules with one key and its certificate.
type Signer struct {
	key    crypto.Signer
	hash   hashAlg
	sigAlg []byte // the SignerInfo's signatureAlgorithm
	id     modsig.Signer
}

// NewSigner returns a Signer for key, whose public half cert holds,
// hashing with hash (sha256, sha384 or sha512, see ParseHash). The signer
// is named by cert's issuer and serial number, or with byKeyID (sign-file's
// -k) by its subject key identifier.
func NewSigner(key crypto.Signer, cert *x509.Certificate, hash crypto.Hash, byKeyID bool) (*Signer, error) {
	h, ok := lookupHash(hash)
	if !ok {
		return nil, fmt.Errorf("%w: %v", ErrHash, hash)
	}
	if !matches(key, cert) {
		return nil, ErrKeyMismatch
	}
	s := &Signer{key: key, hash: h, id: modsig.Signer{DigestAlgorithm: h.oid}}
	switch key.(type) {
	case *rsa.PrivateKey:
		s.sigAlg = modsig.AlgorithmIdentifier(oidRSAEncryption, modsig.NullParams)
	case *ecdsa.PrivateKey:
		s.sigAlg = modsig.AlgorithmIdentifier(h.ecdsa, nil)
	default:
		return nil, fmt.Errorf("%w: %T", ErrKeyType, key)
	}
	if byKeyID {
		if len(cert.SubjectKeyId) == 0 {
			return nil, ErrNoSKID
		}
		s.id.SKID = cert.SubjectKeyId
		return s, nil
	}
	serial, err := rawSerial(cert)
	if err != nil {
		return nil, err
	}
	s.id.Issuer, s.id.Serial = cert.RawIssuer, serial
	return s, nil
}

// rawSerial returns the DER INTEGER of cert's serial number as the
// certificate encodes it.
func rawSerial(cert *x509.Certificate) ([]byte, error) {
	var tbs asn1.RawValue
	if _, err := asn1.Unmarshal(cert.RawTBSCertificate, &tbs); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoCert, err)
	}
	rest := tbs.Bytes
	for range 2 {
		var v asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &v); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoCert, err)
		}
		if v.Class == asn1.ClassUniversal && v.Tag == asn1.TagInteger {
			return v.FullBytes, nil
		}
	}
	return nil, fmt.Errorf("%w: no serial number", ErrNoCert)
}

// SignedData returns the DER CMS SignedData over image, what sign-file
// writes to MODULE.p7s with -p or -d.
func (s *Signer) SignedData(image []byte) ([]byte, error) {
	d := s.hash.hash.New()
	d.Write(image)
	sig, err := s.key.Sign(rand.Reader, d.Sum(nil), s.hash.hash)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	id := s.id
	id.Signature = sig
	return modsig.Build(id, s.sigAlg)
}

// Sign returns image signed: image, its SignedData and the trailer.
func (s *Signer) Sign(image []byte) ([]byte, error) {
	sd, err := s.SignedData(image)
	if err != nil {
		return nil, err
	}
	return Append(image, sd), nil
}

// Append returns image followed by the signature sig (a DER SignedData,
// what sign-file's -s takes) and the trailer that describes it.
func Append(image, sig []byte) []byte {
	out := make([]byte, 0, len(image)+len(sig)+modsig.InfoLen+len(modsig.Magic))
	out = append(out, image...)
	out = append(out, sig...)
	return append(out, modsig.Trailer(len(sig))...)
}
