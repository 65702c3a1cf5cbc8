package modsig

// DER tags used by the SignedData sign-file writes.
const (
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagNull        = 0x05
	tagOID         = 0x06
	tagSequence    = 0x30
	tagSet         = 0x31
	tagExplicit0   = 0xa0 // [0] constructed
	tagImplicit0   = 0x80 // [0] primitive (subjectKeyIdentifier)
)

// tlv encodes one DER value: tag, definite length, then the contents.
func tlv(tag byte, contents ...[]byte) []byte {
	n := 0
	for _, c := range contents {
		n += len(c)
	}
	out := make([]byte, 0, n+6)
	out = append(out, tag)
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	default:
		var l []byte
		for v := n; v > 0; v >>= 8 {
			l = append([]byte{byte(v)}, l...)
		}
		out = append(out, 0x80|byte(len(l)))
		out = append(out, l...)
	}
	for _, c := range contents {
		out = append(out, c...)
	}
	return out
}

// smallInt encodes a non-negative INTEGER below 128.
func smallInt(v byte) []byte { return tlv(tagInteger, []byte{v}) }
