package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// ParsePrivateKey reads the private key in data as sign-file does: the
// first PEM block that holds a private key, skipping others (so one file
// may hold key and certificate, as the kernel's signing_key.pem does);
// beyond sign-file, data may also be a DER key. PKCS#8, PKCS#1 (RSA) and
// SEC 1 (EC) keys are read; RSA and ECDSA P-256 and P-384 keys are
// accepted. A key encrypted with legacy PEM encryption (Proc-Type and
// DEK-Info headers) is decrypted with passphrase (KBUILD_SIGN_PIN for
// sign-file), and so is an encrypted PKCS#8 key ("ENCRYPTED PRIVATE KEY",
// what OpenSSL 1.1 and 3 write) protected with PBES2: PBKDF2 with
// HMAC-SHA1/256/384/512 and AES-128/192/256-CBC; other PKCS#8 schemes
// (PBES1, scrypt) fail with ErrEncryptedPKCS8. A nil passphrase means
// none: an encrypted key then fails with ErrPassphrase.
func ParsePrivateKey(data, passphrase []byte) (crypto.Signer, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "ENCRYPTED PRIVATE KEY":
			if passphrase == nil {
				return nil, fmt.Errorf("%w: the key is encrypted and no passphrase is set", ErrPassphrase)
			}
			der, err := decryptPKCS8(block.Bytes, passphrase)
			if err != nil {
				return nil, err
			}
			key, err := parseKeyDER(der)
			if err != nil {
				return nil, fmt.Errorf("%w (or a wrong passphrase)", err)
			}
			return key, nil
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		default:
			continue
		}
		der := block.Bytes
		//lint:ignore SA1019 legacy PEM encryption is what sign-file's PEM_read_bio_PrivateKey decrypts; it is the only encrypted form supported here
		if x509.IsEncryptedPEMBlock(block) {
			if passphrase == nil {
				return nil, fmt.Errorf("%w: the key is encrypted and no passphrase is set", ErrPassphrase)
			}
			var err error
			//lint:ignore SA1019 see above
			if der, err = x509.DecryptPEMBlock(block, passphrase); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrPassphrase, err)
			}
		}
		return parseKeyDER(der)
	}
	if len(data) > 0 && data[0] == 0x30 {
		return parseKeyDER(data)
	}
	return nil, ErrNoKey
}

// parseKeyDER reads a DER PKCS#8, PKCS#1 or SEC 1 private key.
func parseKeyDER(der []byte) (crypto.Signer, error) {
	var key any
	var err error
	if key, err = x509.ParsePKCS8PrivateKey(der); err != nil {
		if k, err1 := x509.ParsePKCS1PrivateKey(der); err1 == nil {
			key, err = k, nil
		} else if k, err2 := x509.ParseECPrivateKey(der); err2 == nil {
			key, err = k, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoKey, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return k, nil
		}
		return nil, fmt.Errorf("%w: ECDSA on %s (P-256 or P-384 only)", ErrKeyType, k.Curve.Params().Name)
	}
	return nil, fmt.Errorf("%w: %T", ErrKeyType, key)
}

// ParseCertificate reads the X.509 certificate in data as sign-file does:
// DER when data starts with a SEQUENCE with a long length (30 81..84),
// otherwise the first PEM CERTIFICATE block.
func ParseCertificate(data []byte) (*x509.Certificate, error) {
	if len(data) >= 2 && data[0] == 0x30 && data[1] >= 0x81 && data[1] <= 0x84 {
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoCert, err)
		}
		return c, nil
	}
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, ErrNoCert
		}
		if block.Type == "CERTIFICATE" || block.Type == "X509 CERTIFICATE" {
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrNoCert, err)
			}
			return c, nil
		}
	}
}

// ParseCertificates reads every certificate in data: a DER certificate,
// or all PEM CERTIFICATE blocks.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	if len(data) >= 2 && data[0] == 0x30 {
		c, err := ParseCertificate(data)
		if err != nil {
			return nil, err
		}
		return []*x509.Certificate{c}, nil
	}
	var out []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" && block.Type != "X509 CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoCert, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, ErrNoCert
	}
	return out, nil
}

// matches reports whether key is the private half of cert's public key.
func matches(key crypto.Signer, cert *x509.Certificate) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}
