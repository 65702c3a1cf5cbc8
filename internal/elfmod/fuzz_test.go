package elfmod

import (
	"bytes"
	"debug/elf"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
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

// keyDER is a PKCS#7 signature sig of a SHA-256 digest by the key of
// serial 1:2 whose issuer's commonName is "key".
func keyDER(tb testing.TB, sig []byte) []byte {
	tb.Helper()
	cn, _ := asn1.Marshal("key")
	return pkcs7DER(tb, []relativeNameSET{{{Type: oidCommonName, Value: asn1.RawValue{FullBytes: cn}}}},
		[]byte{1, 2}, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}, sig)
}

// signedModule returns a module image signed with the PKCS#7 der.
func signedModule(tb testing.TB, der []byte) []byte {
	tb.Helper()
	img, err := (&testmod.Module{Name: "p", Trailer: pkcs7Trailer(der)}).ELF()
	if err != nil {
		tb.Fatal(err)
	}
	return img
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
	der := keyDER(f, []byte{9})
	f.Add(signedModule(f, der))
	f.Add(pkcs7Trailer(der))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkSignature(t, b)
		m, err := Parse(b)
		if err != nil {
			if m != nil || !errors.Is(err, ErrFormat) {
				t.Fatalf("Parse: %v (module %v); want only an error wrapping ErrFormat", err, m != nil)
			}
			return
		}
		if want := elf.Class(b[elf.EI_CLASS]); elf.Class(m.Class()) != want {
			t.Fatalf("Class() = %v, the header says %v", m.Class(), want)
		}
		if bo := map[elf.Data]binary.ByteOrder{elf.ELFDATA2LSB: binary.LittleEndian, elf.ELFDATA2MSB: binary.BigEndian}[elf.Data(b[elf.EI_DATA])]; m.ByteOrder() != bo {
			t.Fatalf("ByteOrder() = %v, the header says %v", m.ByteOrder(), elf.Data(b[elf.EI_DATA]))
		}
		_ = m.Machine()
		// Every accessor either fails with one of the documented
		// sentinels or returns strings read from the image: no NUL, no
		// name over maxName, never more entries than the image can hold.
		checkErr := func(what string, err error) {
			t.Helper()
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrFormat) && !errors.Is(err, ErrNoSection) || fe.Error() == "" {
				t.Fatalf("%s: error %v is not a *FormatError wrapping ErrFormat or ErrNoSection", what, err)
			}
		}
		checkName := func(what, name string) {
			t.Helper()
			if len(name) > maxName || strings.IndexByte(name, 0) >= 0 {
				t.Fatalf("%s: name %q is not a C string of at most %d bytes", what, name, maxName)
			}
		}
		info, err := m.Modinfo()
		if err != nil {
			checkErr("Modinfo", err)
		}
		if len(info) > (len(b)+1)/2 {
			t.Fatalf("Modinfo: %d entries from %d bytes", len(info), len(b))
		}
		for _, kv := range info {
			if strings.ContainsRune(kv.Key, '=') || strings.IndexByte(kv.Key+kv.Value, 0) >= 0 {
				t.Fatalf("Modinfo entry %q=%q: the key holds '=' or a NUL is kept", kv.Key, kv.Value)
			}
		}
		vers, err := m.Versions()
		if err != nil {
			checkErr("Versions", err)
		}
		if len(vers) > len(b)/versionLen {
			t.Fatalf("Versions: %d entries of %d bytes from %d bytes", len(vers), versionLen, len(b))
		}
		for _, v := range vers {
			checkName("Versions", v.Name)
			if v.Bind != byte(elf.STB_GLOBAL) || m.Class() == Class32 && v.CRC > 0xffffffff {
				t.Fatalf("Versions: entry %+v", v)
			}
		}
		exports, err := m.Exports()
		if err != nil {
			checkErr("Exports", err)
		}
		if len(exports) > len(b) {
			t.Fatalf("Exports: %d entries from %d bytes", len(exports), len(b))
		}
		for _, s := range exports {
			checkName("Exports", s.Name)
			if s.Bind > 0xf {
				t.Fatalf("Exports: entry %+v has a binding over 4 bits", s)
			}
		}
		undef, err := m.Undefined()
		if err != nil {
			checkErr("Undefined", err)
		}
		if len(undef) > len(b) {
			t.Fatalf("Undefined: %d entries from %d bytes", len(undef), len(b))
		}
		for _, s := range undef {
			checkName("Undefined", s.Name)
			if s.Bind != byte(elf.STB_GLOBAL) && s.Bind != byte(elf.STB_WEAK) {
				t.Fatalf("Undefined: entry %+v is neither global nor weak", s)
			}
		}
		// Undefined lists every __versions entry, matched to a symbol or
		// not, when the section is well formed.
		if err == nil && vers != nil {
			names := map[string]bool{}
			for _, s := range undef {
				names[s.Name] = true
			}
			for _, v := range vers {
				if raw := v.Name; !names[raw] && !names["."+raw] {
					t.Fatalf("Undefined misses the __versions entry %q", raw)
				}
			}
		}
		name, err := m.ThisModuleName()
		if err != nil {
			checkErr("ThisModuleName", err)
		}
		if len(name) > 60 || strings.IndexByte(name, 0) >= 0 {
			t.Fatalf("ThisModuleName = %q: over MODULE_NAME_LEN or holding a NUL", name)
		}
	})
}

// checkSignature checks ParseSignature on arbitrary bytes: a signature is
// only found before SignatureMagic, its fields take the documented values,
// and Info renders it with HexString, which decodes back to the bytes.
func checkSignature(t *testing.T, b []byte) {
	t.Helper()
	s, ok := ParseSignature(b)
	if !ok {
		if !reflect.DeepEqual(s, Signature{}) {
			t.Fatalf("ParseSignature: no signature, but %+v", s)
		}
		return
	}
	if !bytes.HasSuffix(b, []byte(SignatureMagic)) {
		t.Fatal("ParseSignature found a signature without the magic")
	}
	if !slices.Contains(pkeyIDType, s.IDType) || !slices.Contains(pkeyHash, s.HashAlgo) ||
		(s.IDType == "PKCS#7") != (s.Algo == "") || s.Algo != "" && !slices.Contains(pkeyAlgo, s.Algo) {
		t.Fatalf("ParseSignature: fields out of range: %+v", s)
	}
	if s.IDType != "PKCS#7" && (len(s.Sig) == 0 || len(s.Signer)+len(s.KeyID)+len(s.Sig)+sigInfoLen+len(SignatureMagic) > len(b)) {
		t.Fatalf("ParseSignature: blobs of %d, %d and %d bytes in a %d-byte file", len(s.Signer), len(s.KeyID), len(s.Sig), len(b))
	}
	if s.IDType == "PKCS#7" && (len(s.KeyID) > 0 && s.KeyID[0] == 0 || strings.IndexByte(s.Signer, 0) >= 0) {
		t.Fatalf("ParseSignature: PKCS#7 key id % x has a leading zero or signer %q a NUL", s.KeyID, s.Signer)
	}
	info := s.Info()
	keys := []string{"sig_id", "signer", "sig_key", "sig_hashalgo", "signature"}
	if len(info) != len(keys) {
		t.Fatalf("Info() = %q", info)
	}
	for i, kv := range info {
		if kv.Key != keys[i] {
			t.Fatalf("Info() = %q, want keys %q", info, keys)
		}
	}
	for _, blob := range [][]byte{s.KeyID, s.Sig} {
		h := HexString(blob)
		if got := unhex(t, h); !bytes.Equal(got, blob) {
			t.Fatalf("HexString(% x) = %q, which reads back as % x", blob, h, got)
		}
	}
	if info[2].Value != HexString(s.KeyID) || info[4].Value != HexString(s.Sig) {
		t.Fatalf("Info() = %q does not render the key id and signature with HexString", info)
	}
}

// unhex decodes HexString's format, checking its layout: two uppercase
// digits per byte, ':' between bytes and "\n\t\t" after every 20th
// byte but the last.
func unhex(t *testing.T, h string) []byte {
	t.Helper()
	var out []byte
	for i := 0; h != ""; i++ {
		if i > 0 {
			sep := ":"
			if i%20 == 0 {
				sep = ":\n\t\t"
			}
			rest, ok := strings.CutPrefix(h, sep)
			if !ok {
				t.Fatalf("HexString: %q after byte %d, want %q", h, i, sep)
			}
			h = rest
		}
		if len(h) < 2 || strings.ToUpper(h[:2]) != h[:2] {
			t.Fatalf("HexString: byte %d is %q", i, h)
		}
		v, err := strconv.ParseUint(h[:2], 16, 8)
		if err != nil {
			t.Fatalf("HexString: byte %d: %v", i, err)
		}
		out = append(out, byte(v))
		h = h[2:]
	}
	return out
}
