package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/getopt"
	"github.com/gokmod/modprobe/sign"
	"github.com/gokmod/modprobe/sign/signzstd"
)

// signMaxInput bounds the key, certificate and raw signature files.
const signMaxInput = 1 << 20

// runSign is gokmod sign, the kernel's scripts/sign-file in Go:
//
//	gokmod sign [-dpk] HASH KEY CERT MODULE [DEST]
//	gokmod sign -s RAWSIG HASH CERT MODULE [DEST]
//
// It appends a signature to MODULE (a second one to a signed module, as
// sign-file does), in place through MODULE.~signed~ or into DEST; -p also
// writes the signature to MODULE.p7s, -d writes only that; -k names the
// signer by subject key identifier; -s appends the signature in RAWSIG (HASH
// and CERT are not read). The key is PEM (the first private key in the
// file, so KEY and CERT may be one file) or DER, decrypted with
// KBUILD_SIGN_PIN; CERT is DER or PEM. Beyond sign-file, a module
// compressed with gzip, xz or zstd is decompressed, signed and compressed
// again as the kernel's build compresses. gokmod sign hands over to this
// binary (the worker), which links the X.509 parser and the zstd writer
// that modprobe's process should not. Usage errors exit 2, others 1.
func runSign(e *env, argv0 string, args []string) int {
	prog := "gokmod sign"
	usage := func() int {
		fmt.Fprintf(e.Stderr, "Usage: %s [-dpk] <hash algo> <key> <x509> <module> [<dest>]\n", prog)
		fmt.Fprintf(e.Stderr, "       %s -s <raw sig> <hash algo> <x509> <module> [<dest>]\n", prog)
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(e.Stderr, "%s: %s\n", prog, fmt.Sprintf(format, a...))
		return 1
	}
	var rawSig, saveSig, signOnly, byKeyID bool
	p := getopt.New(prog, args, "sdpk", nil, e.Stderr).WithEnv(e.Getenv)
	for c := range p.Options() {
		switch c {
		case 's':
			rawSig = true
		case 'p':
			saveSig = true
		case 'd':
			signOnly, saveSig = true, true
		case 'k':
			byKeyID = true
		default:
			return usage()
		}
	}
	ops := p.Operands()
	if len(ops) < 4 || len(ops) > 5 {
		return usage()
	}
	hashName, keyName, certName, module := ops[0], ops[1], ops[2], ops[3]
	if rawSig {
		hashName = ops[1]
	}
	dest, inPlace := module+".~signed~", true
	if len(ops) == 5 && ops[4] != module {
		dest, inPlace = ops[4], false
	}
	file, err := fileio.ReadInput(module, sign.DefaultMaxSize)
	if err != nil {
		return fail("%v", err)
	}
	var signed []byte
	if rawSig {
		sig, err := fileio.ReadInput(ops[0], signMaxInput)
		if err != nil {
			return fail("%v", err)
		}
		if signed, err = sign.AppendFile(file, sig, sign.Options{}); err != nil {
			return fail("%s: %v", module, err)
		}
	} else {
		signer, err := loadSigner(e, hashName, keyName, certName, byKeyID)
		if err != nil {
			return fail("%v", err)
		}
		var sd []byte
		if signOnly {
			image, err := sign.Image(file, 0)
			if err == nil {
				sd, err = signer.SignedData(image)
			}
			if err != nil {
				return fail("%s: %v", module, err)
			}
		} else if signed, sd, err = signer.SignFile(file, sign.Options{Zstd: signzstd.Compress}); err != nil {
			return fail("%s: %v", module, err)
		}
		if saveSig {
			if err := os.WriteFile(module+".p7s", sd, 0o666); err != nil {
				return fail("%v", err)
			}
		}
		if signOnly {
			return 0
		}
	}
	if err := os.WriteFile(dest, signed, 0o666); err != nil {
		return fail("%v", err)
	}
	if inPlace {
		if err := os.Rename(dest, module); err != nil {
			return fail("%v", err)
		}
	}
	return 0
}

// loadSigner reads the key and certificate sign-file's arguments name.
func loadSigner(e *env, hashName, keyName, certName string, byKeyID bool) (*sign.Signer, error) {
	if strings.HasPrefix(keyName, "pkcs11:") {
		return nil, fmt.Errorf("%s: PKCS#11 keys are not supported", keyName)
	}
	keyData, err := fileio.ReadInput(keyName, signMaxInput)
	if err != nil {
		return nil, err
	}
	var pin []byte
	if v, ok := e.Getenv("KBUILD_SIGN_PIN"); ok {
		pin = []byte(v)
	}
	key, err := sign.ParsePrivateKey(keyData, pin)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyName, err)
	}
	certData, err := fileio.ReadInput(certName, signMaxInput)
	if err != nil {
		return nil, err
	}
	cert, err := sign.ParseCertificate(certData)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certName, err)
	}
	hash, err := sign.ParseHash(hashName)
	if err != nil {
		return nil, err
	}
	s, err := sign.NewSigner(key, cert, hash, byKeyID)
	if err != nil {
		return nil, fmt.Errorf("%s, %s: %w", keyName, certName, err)
	}
	return s, nil
}
