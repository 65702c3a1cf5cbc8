package modsig

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Magic ends a module that carries an appended signature.
const Magic = "~Module signature appended~\n"

// InfoLen is sizeof(struct module_signature): algo, hash, id_type,
// signer_len, key_id_len, three bytes of padding and a big-endian sig_len.
const InfoLen = 12

// IDPKCS7 is PKEY_ID_PKCS7, the only id_type the kernel verifies.
const IDPKCS7 = 2

// Errors of Split, one per check the kernel's mod_verify_sig makes.
var (
	// ErrNoMagic: the file does not end with Magic.
	ErrNoMagic = errors.New("no module signature magic at the end")
	// ErrBadInfo: the struct module_signature before the magic is cut
	// short, names a signature longer than the file, or has fields the
	// kernel wants zero (EBADMSG).
	ErrBadInfo = errors.New("bad module signature trailer")
	// ErrNotPKCS7: id_type is not PKEY_ID_PKCS7 (ENOPKG).
	ErrNotPKCS7 = errors.New("module signature is not PKCS#7")
)

// Trailer returns what follows a signature of sigLen bytes: the struct
// module_signature sign-file writes (id_type PKCS#7, every other field
// zero, sig_len big-endian) and Magic.
func Trailer(sigLen int) []byte {
	t := make([]byte, InfoLen, InfoLen+len(Magic))
	t[2] = IDPKCS7
	binary.BigEndian.PutUint32(t[8:], uint32(sigLen))
	return append(t, Magic...)
}

// Split cuts a signed module image into the bytes the signature covers
// and the signature, with the kernel's checks (mod_verify_sig and
// mod_check_sig): the magic, a trailer that fits, a signature shorter
// than what precedes it, id_type PKCS#7 and algo, hash, signer_len,
// key_id_len and the padding all zero.
func Split(image []byte) (body, sig []byte, err error) {
	if len(image) < len(Magic) || string(image[len(image)-len(Magic):]) != Magic {
		return nil, nil, ErrNoMagic
	}
	rest := len(image) - len(Magic)
	if rest < InfoLen {
		return nil, nil, fmt.Errorf("%w: %d bytes before the magic, %d needed", ErrBadInfo, rest, InfoLen)
	}
	info := image[rest-InfoLen : rest]
	rest -= InfoLen
	sigLen := uint64(binary.BigEndian.Uint32(info[8:]))
	if sigLen >= uint64(rest) {
		return nil, nil, fmt.Errorf("%w: signature length %d, only %d bytes before the trailer", ErrBadInfo, sigLen, rest)
	}
	if info[2] != IDPKCS7 {
		return nil, nil, fmt.Errorf("%w: id_type %d", ErrNotPKCS7, info[2])
	}
	for i, name := range []string{"algo", "hash", "", "signer_len", "key_id_len", "pad", "pad", "pad"} {
		if name != "" && info[i] != 0 {
			return nil, nil, fmt.Errorf("%w: %s is %d, not 0", ErrBadInfo, name, info[i])
		}
	}
	end := rest - int(sigLen)
	return image[:end], image[end:rest], nil
}
