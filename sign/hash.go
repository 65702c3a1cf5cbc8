package sign

import (
	"crypto"
	"encoding/asn1"
	"fmt"
)

// hashAlg is a digest algorithm sign-file can be given.
type hashAlg struct {
	name  string
	hash  crypto.Hash
	oid   asn1.ObjectIdentifier
	ecdsa asn1.ObjectIdentifier // ecdsa-with-SHAxxx
}

var hashAlgs = []hashAlg{
	{"sha256", crypto.SHA256, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}, asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}},
	{"sha384", crypto.SHA384, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}, asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}},
	{"sha512", crypto.SHA512, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}, asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}},
}

var (
	oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	// sha256WithRSAEncryption and friends, which the kernel also takes.
	oidRSAWith = map[string]crypto.Hash{
		"1.2.840.113549.1.1.11": crypto.SHA256,
		"1.2.840.113549.1.1.12": crypto.SHA384,
		"1.2.840.113549.1.1.13": crypto.SHA512,
	}
)

// ParseHash returns the hash sign-file's HASH argument names: sha256,
// sha384 or sha512.
func ParseHash(name string) (crypto.Hash, error) {
	for _, h := range hashAlgs {
		if h.name == name {
			return h.hash, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrHash, name)
}

func lookupHash(h crypto.Hash) (hashAlg, bool) {
	for _, a := range hashAlgs {
		if a.hash == h {
			return a, true
		}
	}
	return hashAlg{}, false
}

func hashByOID(oid asn1.ObjectIdentifier) (hashAlg, bool) {
	for _, a := range hashAlgs {
		if a.oid.Equal(oid) {
			return a, true
		}
	}
	return hashAlg{}, false
}
