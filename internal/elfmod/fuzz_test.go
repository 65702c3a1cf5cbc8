package elfmod

import (
	"bytes"
	"encoding/asn1"
	"encoding/binary"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

// pkcs7DER builds a minimal PKCS#7 SignedData with one SignerInfo.
func pkcs7DER(t testing.TB, issuer []relativeNameSET, serial []byte, digest asn1.ObjectIdentifier, sig []byte) []byte {
	t.Helper()
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	raw := func(b []byte) asn1.RawValue { return asn1.RawValue{FullBytes: b} }
	alg := must(asn1.Marshal(algorithmIdentifier{Algorithm: digest}))
	rsa := must(asn1.Marshal(algorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}}))
	ias := must(asn1.Marshal(struct {
		Issuer []relativeNameSET
		Serial asn1.RawValue
	}{issuer, asn1.RawValue{Tag: asn1.TagInteger, Bytes: serial}}))
	si := must(asn1.Marshal(struct {
		Version int
		IAS     asn1.RawValue
		Digest  asn1.RawValue
		Enc     asn1.RawValue
		Sig     []byte
	}{1, raw(ias), raw(alg), raw(rsa), sig}))
	sd := must(asn1.Marshal(struct {
		Version     int
		DigestAlgs  asn1.RawValue
		ContentInfo struct{ Type asn1.ObjectIdentifier }
		SignerInfos asn1.RawValue
	}{
		Version:     1,
		DigestAlgs:  asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: alg},
		ContentInfo: struct{ Type asn1.ObjectIdentifier }{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}},
		SignerInfos: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: si},
	}))
	return must(asn1.Marshal(struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue
	}{oidSignedData, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sd}}))
}

func pkcs7Trailer(der []byte) []byte {
	tr := append([]byte(nil), der...)
	hdr := []byte{0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(hdr[8:], uint32(len(der)))
	tr = append(tr, hdr...)
	return append(tr, SignatureMagic...)
}

func TestSignaturePKCS7(t *testing.T) {
	attr := func(oid asn1.ObjectIdentifier, v string) relativeNameSET {
		b, _ := asn1.Marshal(v)
		return relativeNameSET{{Type: oid, Value: asn1.RawValue{FullBytes: b}}}
	}
	org := asn1.ObjectIdentifier{2, 5, 4, 10}
	sha256 := asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	for _, tc := range []struct {
		name       string
		issuer     []relativeNameSET
		serial     []byte
		digest     asn1.ObjectIdentifier
		ok         bool
		signer     string
		key, hexed string
	}{
		{"cn", []relativeNameSET{attr(org, "Debian"), attr(oidCommonName, "Build time key"), attr(org, "x")},
			[]byte{0x00, 0x9a, 0x01}, sha256, true, "Build time key", "\x9a\x01", "9A:01"},
		{"no-cn", []relativeNameSET{attr(org, "Debian"), attr(org, "Last")},
			[]byte{0x05}, sha256, true, "Last", "\x05", "05"},
		{"negative-serial", nil, []byte{0xff, 0x00}, sha256, true, "", "\x01\x00", "01:00"},
		{"unknown-digest", nil, []byte{1}, asn1.ObjectIdentifier{1, 2, 3}, false, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der := pkcs7DER(t, tc.issuer, tc.serial, tc.digest, []byte{0xab, 0xcd})
			img, err := (&testmod.Module{Name: "p", Trailer: pkcs7Trailer(der)}).ELF()
			if err != nil {
				t.Fatal(err)
			}
			s, ok := ParseSignature(img)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if s.IDType != "PKCS#7" || s.Signer != tc.signer || string(s.KeyID) != tc.key ||
				s.HashAlgo != "sha256" || !bytes.Equal(s.Sig, []byte{0xab, 0xcd}) {
				t.Errorf("signature = %+v", s)
			}
			if got := s.Info()[2].Value; got != tc.hexed {
				t.Errorf("sig_key = %q, want %q", got, tc.hexed)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range allClasses {
		for _, s := range allStyles {
			img, err := sampleModule(c, s).ELF()
			if err != nil {
				f.Fatal(err)
			}
			f.Add(img)
		}
	}
	cn, _ := asn1.Marshal("key")
	der := pkcs7DER(f, []relativeNameSET{{{Type: oidCommonName, Value: asn1.RawValue{FullBytes: cn}}}},
		[]byte{1, 2}, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}, []byte{9})
	img, err := (&testmod.Module{Name: "p", Trailer: pkcs7Trailer(der)}).ELF()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(img)
	f.Add(pkcs7Trailer(der))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, ok := ParseSignature(b); ok {
			_ = s.Info()
		}
		m, err := Parse(b)
		if err != nil {
			return
		}
		_ = m.Class()
		_ = m.ByteOrder()
		_ = m.Machine()
		_, _ = m.Modinfo()
		_, _ = m.Versions()
		_, _ = m.Exports()
		_, _ = m.Undefined()
		_, _ = m.ThisModuleName()
	})
}
