package sign

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"fmt"
	"hash"
)

// maxPBKDF2Iterations bounds the work an encrypted key file can ask for
// (OpenSSL 3 writes 2048 iterations).
const maxPBKDF2Iterations = 10_000_000

var (
	oidPBES2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	prfs      = map[string]func() hash.Hash{
		"1.2.840.113549.2.7":  sha1.New,
		"1.2.840.113549.2.9":  sha256.New,
		"1.2.840.113549.2.10": sha512.New384,
		"1.2.840.113549.2.11": sha512.New,
	}
	aesCBCKeyLen = map[string]int{
		"2.16.840.1.101.3.4.1.2":  16,
		"2.16.840.1.101.3.4.1.22": 24,
		"2.16.840.1.101.3.4.1.42": 32,
	}
)

type pkixAlgorithm struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

// decryptPKCS8 decrypts an EncryptedPrivateKeyInfo protected with PBES2
// (PBKDF2 with HMAC-SHA1/256/384/512, AES-CBC), what OpenSSL 1.1 and 3
// write for an encrypted key, and returns the PKCS#8 PrivateKeyInfo.
// Other schemes (PBES1, scrypt) fail with ErrEncryptedPKCS8.
func decryptPKCS8(der, passphrase []byte) ([]byte, error) {
	var epki struct {
		Algo pkixAlgorithm
		Data []byte
	}
	if rest, err := asn1.Unmarshal(der, &epki); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: EncryptedPrivateKeyInfo does not parse", ErrNoKey)
	}
	if !epki.Algo.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("%w: scheme %v (PBES2 only)", ErrEncryptedPKCS8, epki.Algo.Algorithm)
	}
	var params struct{ KDF, Enc pkixAlgorithm }
	if _, err := asn1.Unmarshal(epki.Algo.Parameters.FullBytes, &params); err != nil {
		return nil, fmt.Errorf("%w: PBES2 parameters: %w", ErrNoKey, err)
	}
	if !params.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("%w: key derivation %v (PBKDF2 only)", ErrEncryptedPKCS8, params.KDF.Algorithm)
	}
	var kdf struct {
		Salt       []byte
		Iterations int
		KeyLen     int           `asn1:"optional"`
		PRF        pkixAlgorithm `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(params.KDF.Parameters.FullBytes, &kdf); err != nil {
		return nil, fmt.Errorf("%w: PBKDF2 parameters: %w", ErrNoKey, err)
	}
	prf := sha1.New // the default PRF, hmacWithSHA1
	if kdf.PRF.Algorithm != nil {
		var ok bool
		if prf, ok = prfs[kdf.PRF.Algorithm.String()]; !ok {
			return nil, fmt.Errorf("%w: PBKDF2 PRF %v", ErrEncryptedPKCS8, kdf.PRF.Algorithm)
		}
	}
	keyLen, ok := aesCBCKeyLen[params.Enc.Algorithm.String()]
	if !ok {
		return nil, fmt.Errorf("%w: cipher %v (AES-CBC only)", ErrEncryptedPKCS8, params.Enc.Algorithm)
	}
	if kdf.Iterations < 1 || kdf.Iterations > maxPBKDF2Iterations || (kdf.KeyLen != 0 && kdf.KeyLen != keyLen) {
		return nil, fmt.Errorf("%w: PBKDF2 with %d iterations, key length %d", ErrNoKey, kdf.Iterations, kdf.KeyLen)
	}
	var iv []byte
	if _, err := asn1.Unmarshal(params.Enc.Parameters.FullBytes, &iv); err != nil || len(iv) != aes.BlockSize {
		return nil, fmt.Errorf("%w: AES-CBC IV", ErrNoKey)
	}
	if len(epki.Data) == 0 || len(epki.Data)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: encrypted key of %d bytes", ErrNoKey, len(epki.Data))
	}
	key, err := pbkdf2.Key(prf, string(passphrase), kdf.Salt, kdf.Iterations, keyLen)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPassphrase, err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	plain := make([]byte, len(epki.Data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, epki.Data)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > aes.BlockSize {
		return nil, ErrPassphrase
	}
	for _, b := range plain[len(plain)-pad:] {
		if int(b) != pad {
			return nil, ErrPassphrase
		}
	}
	return plain[:len(plain)-pad], nil
}
