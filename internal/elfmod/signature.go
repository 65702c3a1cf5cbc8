package elfmod

import (
	"bytes"
	"encoding/asn1"
	"encoding/binary"
	"math/big"
	"strings"

	"github.com/gokmod/modprobe/internal/modsig"
)

// SignatureMagic ends a module that carries an appended signature.
const SignatureMagic = modsig.Magic

// sigInfoLen is sizeof(struct module_signature).
const sigInfoLen = modsig.InfoLen

var (
	pkeyAlgo   = []string{"DSA", "RSA"}
	pkeyHash   = []string{"md4", "md5", "sha1", "rmd160", "sha256", "sha384", "sha512", "sha224", "sm3"}
	pkeyIDType = []string{"PGP", "X509", "PKCS#7"}
)

// Signature is the decoded module signature trailer, with the values
// kmod 30 built with libcrypto reports.
//
// For id types PGP and X509, Signer, KeyID and Sig are the blobs stored
// before the trailer and HashAlgo comes from the trailer's hash field. For
// PKCS#7 they come from the first SignerInfo of the DER SignedData: Signer
// is the issuer's commonName (or, without one, the issuer's last
// attribute), KeyID the certificate serial number as unsigned big-endian
// bytes without leading zeros, HashAlgo the digest algorithm and Sig the
// encrypted digest.
type Signature struct {
	IDType   string // "PGP", "X509" or "PKCS#7"
	Algo     string // "DSA" or "RSA"; empty for PKCS#7, which kmod does not report
	Signer   string
	KeyID    []byte
	HashAlgo string // "md4", "md5", "sha1", "rmd160", "sha256", "sha384", "sha512", "sha224" or "sm3"
	Sig      []byte
}

// ParseSignature reads the signature appended to a module file (the whole
// decompressed file, including the trailer) with the validity rules of
// kmod_module_signature_info: the file ends with SignatureMagic, the
// struct module_signature before it has algo < 2, hash < 9, id_type < 3, a
// non-zero sig_len, and the file is long enough for the signer, key id
// and signature blobs. For PKCS#7 the DER must decode and name a known
// digest algorithm. ok is false when there is no valid signature.
func ParseSignature(file []byte) (sig Signature, ok bool) {
	if !bytes.HasSuffix(file, []byte(SignatureMagic)) {
		return Signature{}, false
	}
	size := len(file) - len(SignatureMagic)
	if size < sigInfoLen {
		return Signature{}, false
	}
	size -= sigInfoLen
	h := file[size : size+sigInfoLen]
	algo, hash, idType, signerLen, keyIDLen := h[0], h[1], h[2], int(h[3]), int(h[4])
	sigLen := uint64(binary.BigEndian.Uint32(h[8:]))
	if int(algo) >= len(pkeyAlgo) || int(hash) >= len(pkeyHash) || int(idType) >= len(pkeyIDType) {
		return Signature{}, false
	}
	if sigLen == 0 || uint64(size) < uint64(signerLen+keyIDLen)+sigLen {
		return Signature{}, false
	}
	end := size - int(sigLen)
	blob := file[end:size]
	if idType == 2 {
		return parsePKCS7(blob)
	}
	keyID := file[end-keyIDLen : end]
	end -= keyIDLen
	signer := file[end-signerLen : end]
	return Signature{
		IDType:   pkeyIDType[idType],
		Algo:     pkeyAlgo[algo],
		Signer:   string(signer),
		KeyID:    bytes.Clone(keyID),
		HashAlgo: pkeyHash[hash],
		Sig:      bytes.Clone(blob),
	}, true
}

// Info returns the entries kmod_module_get_info appends to a signed
// module's .modinfo, in kmod's order: sig_id, signer, sig_key,
// sig_hashalgo and signature, the binary values as HexString renders them.
func (s Signature) Info() []KeyValue {
	return []KeyValue{
		{"sig_id", s.IDType},
		{"signer", s.Signer},
		{"sig_key", HexString(s.KeyID)},
		{"sig_hashalgo", s.HashAlgo},
		{"signature", HexString(s.Sig)},
	}
}

// HexString formats b as kmod does for sig_key and signature: uppercase
// hex bytes separated by ':', with "\n\t\t" after every 20th byte that is
// not the last. An empty b gives "".
func HexString(b []byte) string {
	const hexdig = "0123456789ABCDEF"
	if len(b) == 0 {
		return ""
	}
	// Three bytes a byte but the last's ':', and three more ("\n\t\t")
	// after every 20th byte that is not the last: one allocation.
	var sb strings.Builder
	sb.Grow(3*len(b) - 1 + 3*((len(b)-1)/20))
	for i, c := range b {
		sb.WriteByte(hexdig[c>>4])
		sb.WriteByte(hexdig[c&0xf])
		if i < len(b)-1 {
			sb.WriteByte(':')
			if (i+1)%20 == 0 {
				sb.WriteString("\n\t\t")
			}
		}
	}
	return sb.String()
}

var (
	oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}
	digestOIDs    = []struct {
		oid  asn1.ObjectIdentifier
		name string
	}{
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 4}, "md4"},
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}, "md5"},
		{asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}, "sha1"},
		{asn1.ObjectIdentifier{1, 3, 36, 3, 2, 1}, "rmd160"},
		{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}, "sha256"},
		{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}, "sha384"},
		{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}, "sha512"},
		{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}, "sha224"},
		{asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401}, "sm3"},
	}
)

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type attributeTypeAndValue struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// relativeNameSET is a SET OF AttributeTypeAndValue (the SET suffix makes
// encoding/asn1 expect a SET).
type relativeNameSET []attributeTypeAndValue

type issuerAndSerial struct {
	Issuer []relativeNameSET
	Serial asn1.RawValue
}

// elements splits DER contents into its top-level values.
func elements(b []byte) ([]asn1.RawValue, bool) {
	var out []asn1.RawValue
	for len(b) > 0 {
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(b, &v)
		if err != nil {
			return nil, false
		}
		out = append(out, v)
		b = rest
	}
	return out, true
}

func isUniversal(v asn1.RawValue, tag int) bool {
	return v.Class == asn1.ClassUniversal && v.Tag == tag
}

// parsePKCS7 decodes the fields kmod's fill_pkcs7 reports.
func parsePKCS7(der []byte) (Signature, bool) {
	var ci contentInfo
	if _, err := asn1.Unmarshal(der, &ci); err != nil || !ci.ContentType.Equal(oidSignedData) {
		return Signature{}, false
	}
	var sd asn1.RawValue
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || !isUniversal(sd, asn1.TagSequence) {
		return Signature{}, false
	}
	// SignedData: version, digestAlgorithms, contentInfo,
	// [0] certificates, [1] crls, signerInfos.
	parts, ok := elements(sd.Bytes)
	if !ok || len(parts) < 4 || !isUniversal(parts[0], asn1.TagInteger) ||
		!isUniversal(parts[1], asn1.TagSet) || !isUniversal(parts[2], asn1.TagSequence) {
		return Signature{}, false
	}
	i := 3
	for i < len(parts) && parts[i].Class == asn1.ClassContextSpecific && (parts[i].Tag == 0 || parts[i].Tag == 1) {
		i++
	}
	if i != len(parts)-1 || !isUniversal(parts[i], asn1.TagSet) {
		return Signature{}, false
	}
	infos, ok := elements(parts[i].Bytes)
	if !ok || len(infos) == 0 || !isUniversal(infos[0], asn1.TagSequence) {
		return Signature{}, false
	}
	// SignerInfo: version, issuerAndSerialNumber, digestAlgorithm,
	// [0] authenticatedAttributes, digestEncryptionAlgorithm,
	// encryptedDigest, [1] unauthenticatedAttributes.
	f, ok := elements(infos[0].Bytes)
	if !ok || len(f) < 5 || !isUniversal(f[0], asn1.TagInteger) {
		return Signature{}, false
	}
	var is issuerAndSerial
	if rest, err := asn1.Unmarshal(f[1].FullBytes, &is); err != nil || len(rest) != 0 || !isUniversal(is.Serial, asn1.TagInteger) {
		return Signature{}, false
	}
	var dig algorithmIdentifier
	if rest, err := asn1.Unmarshal(f[2].FullBytes, &dig); err != nil || len(rest) != 0 {
		return Signature{}, false
	}
	j := 3
	if f[j].Class == asn1.ClassContextSpecific && f[j].Tag == 0 {
		j++
	}
	if j+1 >= len(f) || !isUniversal(f[j], asn1.TagSequence) || !isUniversal(f[j+1], asn1.TagOctetString) {
		return Signature{}, false
	}
	encDigest := f[j+1].Bytes

	hash := ""
	for _, d := range digestOIDs {
		if d.oid.Equal(dig.Algorithm) {
			hash = d.name
		}
	}
	if hash == "" {
		return Signature{}, false
	}

	var serial big.Int
	sb := is.Serial.Bytes
	serial.SetBytes(sb)
	if len(sb) > 0 && sb[0]&0x80 != 0 { // negative: two's complement
		serial.Sub(&serial, new(big.Int).Lsh(big.NewInt(1), uint(8*len(sb))))
		serial.Abs(&serial)
	}

	return Signature{
		IDType:   pkeyIDType[2],
		Signer:   issuerName(is.Issuer),
		KeyID:    serial.Bytes(),
		HashAlgo: hash,
		Sig:      bytes.Clone(encDigest),
	}, true
}

// issuerName returns the value of the first commonName attribute of an
// X.509 name, or of its last attribute when there is none, cut at the
// first NUL as a C string would be.
func issuerName(rdns []relativeNameSET) string {
	var last *attributeTypeAndValue
	for _, rdn := range rdns {
		for k := range rdn {
			last = &rdn[k]
			if last.Type.Equal(oidCommonName) {
				return cstr(last.Value.Bytes)
			}
		}
	}
	if last == nil {
		return ""
	}
	return cstr(last.Value.Bytes)
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
