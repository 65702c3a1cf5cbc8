package sign

import (
	"errors"

	"github.com/gokmod/modprobe/internal/modsig"
)

// Errors of key and certificate loading and of signing.
var (
	// ErrHash: the hash algorithm is not sha256, sha384 or sha512.
	ErrHash = errors.New("unsupported hash algorithm")
	// ErrNoKey: the key file holds no private key.
	ErrNoKey = errors.New("no private key")
	// ErrKeyType: the private key is neither RSA nor ECDSA P-256/P-384.
	ErrKeyType = errors.New("unsupported key type")
	// ErrPassphrase: the key is encrypted and there is no passphrase
	// (KBUILD_SIGN_PIN), or it does not decrypt the key.
	ErrPassphrase = errors.New("cannot decrypt private key")
	// ErrEncryptedPKCS8: the key is an encrypted PKCS#8 key with a scheme
	// other than PBES2 with PBKDF2 and AES-CBC (PBES1, scrypt).
	ErrEncryptedPKCS8 = errors.New("unsupported encryption of a PKCS#8 private key (PBES2 with PBKDF2 and AES-CBC only)")
	// ErrNoCert: the certificate file holds no X.509 certificate.
	ErrNoCert = errors.New("no X.509 certificate")
	// ErrKeyMismatch: the private key does not belong to the certificate.
	ErrKeyMismatch = errors.New("private key does not match the certificate")
	// ErrNoSKID: signing by key identifier (-k) with a certificate that
	// has no subject key identifier.
	ErrNoSKID = errors.New("certificate has no subject key identifier")
	// ErrZstdWriter: a zstd-compressed module and no zstd compressor
	// (Options.Zstd) to compress it again.
	ErrZstdWriter = errors.New("no zstd compressor to recompress the signed module")
)

// Errors of Verify, one per step of the kernel's check; each wraps the
// cause.
var (
	// ErrNotSigned: the module does not end with the signature magic.
	ErrNotSigned = modsig.ErrNoMagic
	// ErrTrailer: the struct module_signature is cut short, names a
	// signature longer than the module, or has fields the kernel wants
	// zero (the kernel's EBADMSG).
	ErrTrailer = modsig.ErrBadInfo
	// ErrNotPKCS7: the signature's id type is not PKCS#7 (ENOPKG).
	ErrNotPKCS7 = modsig.ErrNotPKCS7
	// ErrMalformed: the PKCS#7 message does not parse (EBADMSG).
	ErrMalformed = modsig.ErrMalformed
	// ErrRejected: the message parses but the kernel refuses it for a
	// module signature: content that is not pkcs7-data, or signed
	// attributes (EKEYREJECTED).
	ErrRejected = errors.New("PKCS#7 message not acceptable as a module signature")
	// ErrAlgorithm: a digest or signature algorithm the kernel does not
	// know, or one that does not fit the certificate's key (ENOPKG).
	ErrAlgorithm = errors.New("unsupported signature algorithm")
	// ErrNoSigner: no certificate matches a signer, by issuer and serial
	// number or by subject key identifier (ENOKEY).
	ErrNoSigner = errors.New("no certificate matches the signer")
	// ErrBadSignature: a matching certificate's key does not verify the
	// signature over the module (EKEYREJECTED).
	ErrBadSignature = errors.New("signature does not verify")
)
