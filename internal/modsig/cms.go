package modsig

import (
	"encoding/asn1"
	"errors"
	"fmt"
)

// Object identifiers of the SignedData.
var (
	OIDSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	OIDData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
)

// ErrMalformed: the signature is not a SignedData this package can read.
var ErrMalformed = errors.New("malformed PKCS#7 signature")

// Signer is what a SignerInfo says about its signer and signature.
type Signer struct {
	// Issuer is the DER Name and Serial the DER INTEGER (whole
	// encodings) of an issuerAndSerialNumber identifier; SKID is set
	// instead for a subjectKeyIdentifier one.
	Issuer, Serial []byte
	SKID           []byte
	// DigestAlgorithm and SignatureAlgorithm are the OIDs of the digest
	// and signature algorithm identifiers; SignatureParams is the DER of
	// the latter's parameters (NULL for rsaEncryption), empty when absent.
	DigestAlgorithm    asn1.ObjectIdentifier
	SignatureAlgorithm asn1.ObjectIdentifier
	SignatureParams    []byte
	// SignedAttrs reports signed (authenticated) attributes.
	SignedAttrs bool
	Signature   []byte
}

// SignedData is a parsed ContentInfo holding a SignedData.
type SignedData struct {
	ContentType asn1.ObjectIdentifier // the encapsulated content's type
	HasContent  bool                  // the content is inside, not detached
	Signers     []Signer
}

// Build returns the DER ContentInfo sign-file makes for one signer (OpenSSL
// CMS with CMS_NOCERTS, CMS_BINARY, CMS_DETACHED, CMS_NOSMIMECAP and
// CMS_NOATTR): SignedData version 1 (3 with a subjectKeyIdentifier), the
// digest algorithm, detached data content, no certificates, no CRLs, and
// one SignerInfo without attributes. The digest algorithm identifier has
// no parameters; sigAlg is the whole signature AlgorithmIdentifier.
func Build(s Signer, sigAlg []byte) ([]byte, error) {
	digOID, err := asn1.Marshal(s.DigestAlgorithm)
	if err != nil {
		return nil, fmt.Errorf("encoding digest algorithm %v: %w", s.DigestAlgorithm, err)
	}
	dataOID, _ := asn1.Marshal(OIDData)
	sdOID, _ := asn1.Marshal(OIDSignedData)
	version := byte(1)
	sid := tlv(tagSequence, s.Issuer, s.Serial)
	if s.SKID != nil {
		version = 3
		sid = tlv(tagImplicit0, s.SKID)
	}
	digAlg := tlv(tagSequence, digOID)
	info := tlv(tagSequence, smallInt(version), sid, digAlg, sigAlg, tlv(tagOctetString, s.Signature))
	sd := tlv(tagSequence, smallInt(version), tlv(tagSet, digAlg), tlv(tagSequence, dataOID), tlv(tagSet, info))
	return tlv(tagSequence, sdOID, tlv(tagExplicit0, sd)), nil
}

// AlgorithmIdentifier encodes an AlgorithmIdentifier; params is the DER of
// its parameters, nil for none.
func AlgorithmIdentifier(oid asn1.ObjectIdentifier, params []byte) []byte {
	o, _ := asn1.Marshal(oid)
	return tlv(tagSequence, o, params)
}

// NullParams is the DER NULL that rsaEncryption carries as parameters.
var NullParams = []byte{tagNull, 0}

// Parse decodes a DER ContentInfo holding a SignedData. It checks the
// structure, not the signatures.
func Parse(der []byte) (*SignedData, error) {
	var ci struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"explicit,tag:0"`
	}
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil {
		return nil, fmt.Errorf("%w: ContentInfo: %w", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the ContentInfo", ErrMalformed, len(rest))
	}
	if !ci.ContentType.Equal(OIDSignedData) {
		return nil, fmt.Errorf("%w: content type %v, not signedData", ErrMalformed, ci.ContentType)
	}
	parts, err := sequence(ci.Content.Bytes, "SignedData")
	if err != nil {
		return nil, err
	}
	// version, digestAlgorithms, encapContentInfo, [0] certificates,
	// [1] crls, signerInfos.
	if len(parts) < 4 || !universal(parts[0], asn1.TagInteger) || !universal(parts[1], asn1.TagSet) {
		return nil, fmt.Errorf("%w: SignedData has %d fields", ErrMalformed, len(parts))
	}
	var encap struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
	}
	if rest, err := asn1.Unmarshal(parts[2].FullBytes, &encap); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: encapsulated content info", ErrMalformed)
	}
	last := parts[len(parts)-1]
	for _, p := range parts[3 : len(parts)-1] {
		if p.Class != asn1.ClassContextSpecific || (p.Tag != 0 && p.Tag != 1) {
			return nil, fmt.Errorf("%w: unexpected SignedData field (tag %d)", ErrMalformed, p.Tag)
		}
	}
	if !universal(last, asn1.TagSet) {
		return nil, fmt.Errorf("%w: no signerInfos", ErrMalformed)
	}
	infos, err := elements(last.Bytes, "signerInfos")
	if err != nil {
		return nil, err
	}
	out := &SignedData{ContentType: encap.ContentType, HasContent: len(encap.Content.FullBytes) != 0}
	for i, raw := range infos {
		s, err := parseSigner(raw)
		if err != nil {
			return nil, fmt.Errorf("signer %d: %w", i, err)
		}
		out.Signers = append(out.Signers, s)
	}
	if len(out.Signers) == 0 {
		return nil, fmt.Errorf("%w: no signers", ErrMalformed)
	}
	return out, nil
}

// parseSigner decodes a SignerInfo: version, sid, digestAlgorithm,
// [0] signedAttrs, signatureAlgorithm, signature, [1] unsignedAttrs.
func parseSigner(raw asn1.RawValue) (Signer, error) {
	if !universal(raw, asn1.TagSequence) {
		return Signer{}, fmt.Errorf("%w: SignerInfo is not a SEQUENCE", ErrMalformed)
	}
	f, err := elements(raw.Bytes, "SignerInfo")
	if err != nil {
		return Signer{}, err
	}
	if len(f) < 5 || !universal(f[0], asn1.TagInteger) {
		return Signer{}, fmt.Errorf("%w: SignerInfo has %d fields", ErrMalformed, len(f))
	}
	var s Signer
	switch sid := f[1]; {
	case universal(sid, asn1.TagSequence):
		is, err := elements(sid.Bytes, "issuerAndSerialNumber")
		if err != nil {
			return Signer{}, err
		}
		if len(is) != 2 || !universal(is[0], asn1.TagSequence) || !universal(is[1], asn1.TagInteger) {
			return Signer{}, fmt.Errorf("%w: issuerAndSerialNumber", ErrMalformed)
		}
		s.Issuer, s.Serial = is[0].FullBytes, is[1].FullBytes
	case sid.Class == asn1.ClassContextSpecific && sid.Tag == 0 && !sid.IsCompound:
		s.SKID = append([]byte{}, sid.Bytes...)
	default:
		return Signer{}, fmt.Errorf("%w: signer identifier (tag %d)", ErrMalformed, sid.Tag)
	}
	if s.DigestAlgorithm, _, err = algorithm(f[2]); err != nil {
		return Signer{}, err
	}
	j := 3
	if f[j].Class == asn1.ClassContextSpecific && f[j].Tag == 0 {
		s.SignedAttrs = true
		j++
	}
	if j+1 >= len(f) {
		return Signer{}, fmt.Errorf("%w: SignerInfo ends early", ErrMalformed)
	}
	if s.SignatureAlgorithm, s.SignatureParams, err = algorithm(f[j]); err != nil {
		return Signer{}, err
	}
	if !universal(f[j+1], asn1.TagOctetString) {
		return Signer{}, fmt.Errorf("%w: signature is not an OCTET STRING", ErrMalformed)
	}
	s.Signature = f[j+1].Bytes
	return s, nil
}

// algorithm decodes an AlgorithmIdentifier.
func algorithm(v asn1.RawValue) (asn1.ObjectIdentifier, []byte, error) {
	var a struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	if rest, err := asn1.Unmarshal(v.FullBytes, &a); err != nil || len(rest) != 0 {
		return nil, nil, fmt.Errorf("%w: algorithm identifier", ErrMalformed)
	}
	return a.Algorithm, a.Parameters.FullBytes, nil
}

// sequence decodes a SEQUENCE and splits its contents.
func sequence(b []byte, what string) ([]asn1.RawValue, error) {
	var v asn1.RawValue
	if rest, err := asn1.Unmarshal(b, &v); err != nil || len(rest) != 0 || !universal(v, asn1.TagSequence) {
		return nil, fmt.Errorf("%w: %s is not a SEQUENCE", ErrMalformed, what)
	}
	return elements(v.Bytes, what)
}

// elements splits DER contents into its top-level values.
func elements(b []byte, what string) ([]asn1.RawValue, error) {
	var out []asn1.RawValue
	for len(b) > 0 {
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(b, &v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
		}
		out = append(out, v)
		b = rest
	}
	return out, nil
}

func universal(v asn1.RawValue, tag int) bool {
	return v.Class == asn1.ClassUniversal && v.Tag == tag
}
