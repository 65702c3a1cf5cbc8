package sign

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"

	"github.com/gokmod/modprobe/internal/modsig"
)

// Verify checks the signature of the module file (compressed or not)
// against certs as the kernel checks a module it loads, and returns the
// certificate that verified it. Each step fails with its own error:
// decompression; the trailer (ErrNotSigned, ErrTrailer, ErrNotPKCS7);
// the PKCS#7 message (ErrMalformed; ErrRejected for content that is not
// pkcs7-data, embedded content or signed attributes, which the kernel
// refuses in a module signature); then for each signer the digest and
// signature algorithms (ErrAlgorithm), the certificate that matches it by
// issuer and serial number or by subject key identifier, and the
// signature over the module without its signature and trailer
// (ErrBadSignature). As in the kernel, a signer no certificate matches is
// passed over, one that matches must verify, and at least one must
// (ErrNoSigner otherwise).
func Verify(file []byte, certs []*x509.Certificate) (*x509.Certificate, error) {
	image, err := Image(file, 0)
	if err != nil {
		return nil, err
	}
	body, sig, err := modsig.Split(image)
	if err != nil {
		return nil, err
	}
	sd, err := modsig.Parse(sig)
	if err != nil {
		return nil, err
	}
	switch {
	case !sd.ContentType.Equal(modsig.OIDData):
		return nil, fmt.Errorf("%w: content type %v, not pkcs7-data", ErrRejected, sd.ContentType)
	case sd.HasContent:
		return nil, fmt.Errorf("%w: the message carries its content", ErrRejected)
	}
	var found *x509.Certificate
	for i, s := range sd.Signers {
		if s.SignedAttrs {
			return nil, fmt.Errorf("%w: signer %d has signed attributes", ErrRejected, i)
		}
		cert := findCert(s, certs)
		if cert == nil {
			continue
		}
		if err := verifySigner(s, cert, body); err != nil {
			return nil, fmt.Errorf("signer %d (%s): %w", i, cert.Subject, err)
		}
		if found == nil {
			found = cert
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w (%d signers, %d certificates)", ErrNoSigner, len(sd.Signers), len(certs))
	}
	return found, nil
}

// findCert returns the certificate s names, or nil.
func findCert(s modsig.Signer, certs []*x509.Certificate) *x509.Certificate {
	for _, c := range certs {
		if s.SKID != nil {
			if len(c.SubjectKeyId) != 0 && bytes.Equal(c.SubjectKeyId, s.SKID) {
				return c
			}
			continue
		}
		if !bytes.Equal(c.RawIssuer, s.Issuer) {
			continue
		}
		if serial, err := rawSerial(c); err == nil && bytes.Equal(serial, s.Serial) {
			return c
		}
	}
	return nil
}

// verifySigner checks s's signature over body with cert's key.
func verifySigner(s modsig.Signer, cert *x509.Certificate, body []byte) error {
	h, ok := hashByOID(s.DigestAlgorithm)
	if !ok {
		return fmt.Errorf("%w: digest %v", ErrAlgorithm, s.DigestAlgorithm)
	}
	d := h.hash.New()
	d.Write(body)
	digest := d.Sum(nil)
	alg := s.SignatureAlgorithm
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if withHash, ok := oidRSAWith[alg.String()]; !alg.Equal(oidRSAEncryption) && (!ok || withHash != h.hash) {
			return fmt.Errorf("%w: %v with an RSA key", ErrAlgorithm, alg)
		}
		if err := rsa.VerifyPKCS1v15(pub, h.hash, digest, s.Signature); err != nil {
			return fmt.Errorf("%w: %w", ErrBadSignature, err)
		}
	case *ecdsa.PublicKey:
		if !isECDSA(alg) {
			return fmt.Errorf("%w: %v with an ECDSA key", ErrAlgorithm, alg)
		}
		if !ecdsa.VerifyASN1(pub, digest, s.Signature) {
			return fmt.Errorf("%w: ECDSA", ErrBadSignature)
		}
	default:
		return fmt.Errorf("%w: %T key", ErrAlgorithm, cert.PublicKey)
	}
	return nil
}

// isECDSA reports whether oid is one of the ecdsa-with-SHAxxx algorithms.
func isECDSA(oid asn1.ObjectIdentifier) bool {
	for _, h := range hashAlgs {
		if oid.Equal(h.ecdsa) {
			return true
		}
	}
	return false
}
