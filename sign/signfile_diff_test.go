package sign_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/sign"
	"github.com/gokmod/modprobe/sign/signzstd"
)

// opensslKey is a key and certificate made by openssl req, as the
// kernel's build makes signing_key.pem.
type opensslKey struct {
	name, keyFile, certFile string
	signer                  crypto.Signer
	cert                    *x509.Certificate
}

// newOpensslKey makes a key with openssl: newkey is its -newkey argument
// ("rsa:2048") and pkeyopt its -pkeyopt arguments.
func newOpensslKey(t *testing.T, openssl, dir, name, newkey string, pkeyopt ...string) opensslKey {
	t.Helper()
	k := opensslKey{name: name, keyFile: filepath.Join(dir, name+".key.pem"), certFile: filepath.Join(dir, name+".crt.pem")}
	args := []string{"req", "-new", "-nodes", "-utf8", "-sha256", "-days", "36500", "-batch", "-x509",
		"-subj", "/CN=gokmod sign-file comparison " + name + "/O=gokmod", "-newkey", newkey}
	for _, o := range pkeyopt {
		args = append(args, "-pkeyopt", o)
	}
	args = append(args, "-keyout", k.keyFile, "-out", k.certFile)
	out, err := exec.Command(openssl, args...).CombinedOutput()
	require.NoError(t, err, "openssl req: %s", out)
	keyPEM, err := os.ReadFile(k.keyFile)
	require.NoError(t, err)
	k.signer, err = sign.ParsePrivateKey(keyPEM, nil)
	require.NoError(t, err)
	certPEM, err := os.ReadFile(k.certFile)
	require.NoError(t, err)
	k.cert, err = sign.ParseCertificate(certPEM)
	require.NoError(t, err)
	return k
}

// debianModules returns the .ko files of Debian 12's tree, sorted: every
// step-th of them, or all with GOKMOD_SIGN_ALL=1.
func debianModules(t *testing.T, step int) []string {
	t.Helper()
	root, release := testmod.DebianTree(t)
	var all []string
	err := filepath.WalkDir(filepath.Join(root, "lib", "modules", release, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".ko") {
			all = append(all, p)
		}
		return err
	})
	require.NoError(t, err)
	require.Greater(t, len(all), 1000, "Debian 12's tree has thousands of modules")
	sort.Strings(all)
	if os.Getenv("GOKMOD_SIGN_ALL") == "1" {
		return all
	}
	var some []string
	for i := 0; i < len(all); i += step {
		some = append(some, all[i])
	}
	return some
}

// forEach runs f on every item with one worker per CPU.
func forEach(items []string, f func(i int, item string)) {
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(items) {
					return
				}
				f(i, items[i])
			}
		}()
	}
	wg.Wait()
}

// TestSignFileIdentical: for RSA keys (2048 and 4096 bits, made by
// openssl), gokmod's signature of a Debian 12 module is byte-identical to
// the kernel's sign-file's, with sha256 and sha512 (Debian's modules are
// signed already, so both append a second signature); and for a quarter
// of those modules, compressed with gzip, xz and zstd, the signed file
// decompresses (with gzip -d, xz -d, zstd -d) to sign-file's output on
// the plain module. Every 50th module by default, all of them with
// GOKMOD_SIGN_ALL=1:
//
//	GOKMOD_SIGN_ALL=1 go test -run TestSignFileIdentical ./sign
func TestSignFileIdentical(t *testing.T) {
	signFile := testmod.SignFile(t)
	openssl := testmod.RequireTool(t, "openssl")
	dir := t.TempDir()
	keys := []opensslKey{
		newOpensslKey(t, openssl, dir, "rsa2048", "rsa:2048"),
		newOpensslKey(t, openssl, dir, "rsa4096", "rsa:4096"),
	}
	hashes := []string{"sha256", "sha512"}
	type signerKey struct{ key, hash int }
	signers := map[signerKey]*sign.Signer{}
	for ki, k := range keys {
		for hi, h := range hashes {
			hash, err := sign.ParseHash(h)
			require.NoError(t, err)
			s, err := sign.NewSigner(k.signer, k.cert, hash, false)
			require.NoError(t, err)
			signers[signerKey{ki, hi}] = s
		}
	}
	decoders := map[testmod.Compression][]string{
		testmod.Gzip: {testmod.RequireTool(t, "gzip"), "-dc"},
		testmod.Xz:   {testmod.RequireTool(t, "xz"), "-dc"},
		testmod.Zstd: {testmod.RequireTool(t, "zstd"), "-dcq"},
	}
	modules := debianModules(t, 50)
	var compared, identical, compressed, compressedOK atomic.Int64
	forEach(modules, func(i int, path string) {
		module, err := os.ReadFile(path)
		if !assert.NoError(t, err) {
			return
		}
		work := filepath.Join(dir, strconv.Itoa(i))
		for sk, s := range signers {
			k, h := keys[sk.key], hashes[sk.hash]
			dest := work + "." + k.name + "." + h
			out, err := exec.Command(signFile, h, k.keyFile, k.certFile, path, dest).CombinedOutput()
			if !assert.NoError(t, err, "sign-file %s: %s", path, out) {
				return
			}
			want, err := os.ReadFile(dest)
			os.Remove(dest)
			if !assert.NoError(t, err) {
				return
			}
			got, err := s.Sign(module)
			if !assert.NoError(t, err) {
				return
			}
			compared.Add(1)
			if assert.True(t, bytes.Equal(want, got), "%s, %s, %s: gokmod's signed module differs from sign-file's", path, k.name, h) {
				identical.Add(1)
			}
			if i%4 != 0 || sk.key != 0 {
				continue
			}
			for c, dec := range decoders {
				file, err := testmod.Compress(module, c)
				if !assert.NoError(t, err) {
					return
				}
				signed, _, err := s.SignFile(file, sign.Options{Zstd: signzstd.Compress})
				if !assert.NoError(t, err) {
					return
				}
				cmd := exec.Command(dec[0], dec[1:]...)
				cmd.Stdin = bytes.NewReader(signed)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				image, err := cmd.Output()
				if !assert.NoError(t, err, "%s -d of the signed %s %s: %s", c, path, h, stderr.String()) {
					continue
				}
				compressed.Add(1)
				if assert.True(t, bytes.Equal(want, image), "%s (%s, %s): the decompressed signed module differs from sign-file's", path, c, h) {
					compressedOK.Add(1)
				}
				if c == testmod.Xz {
					assert.Equal(t, byte(0x01), signed[7], "xz stream flags: CRC32 check")
				}
			}
		}
	})
	t.Logf("%d modules of Debian 12's tree, %d signatures compared with sign-file's, %d identical; %d compressed (gzip, xz, zstd) signed files decompressed by the tools, %d identical to sign-file's output",
		len(modules), compared.Load(), identical.Load(), compressed.Load(), compressedOK.Load())
	require.Equal(t, int64(len(modules)*len(signers)), compared.Load())
	require.Equal(t, compared.Load(), identical.Load())
	require.Equal(t, compressed.Load(), compressedOK.Load())
	require.Positive(t, compressed.Load())
}

// TestECDSAAgainstOpenSSL: ECDSA signatures are randomized, so they are
// checked both ways: gokmod's signature (the SignedData it writes, as
// sign-file -d does) verifies with openssl cms -verify over the module,
// and fails over a changed module; sign-file's ECDSA-signed module
// verifies with Verify, and fails against another certificate.
func TestECDSAAgainstOpenSSL(t *testing.T) {
	signFile := testmod.SignFile(t)
	openssl := testmod.RequireTool(t, "openssl")
	dir := t.TempDir()
	keys := []opensslKey{
		newOpensslKey(t, openssl, dir, "p256", "ec", "ec_paramgen_curve:P-256"),
		newOpensslKey(t, openssl, dir, "p384", "ec", "ec_paramgen_curve:P-384"),
	}
	modules := debianModules(t, 500)
	var checked atomic.Int64
	forEach(modules, func(i int, path string) {
		module, err := os.ReadFile(path)
		if !assert.NoError(t, err) {
			return
		}
		for ki, k := range keys {
			other := keys[1-ki]
			for _, h := range []string{"sha256", "sha384", "sha512"} {
				tag := filepath.Join(dir, strconv.Itoa(i)+"."+k.name+"."+h)
				hash, err := sign.ParseHash(h)
				if !assert.NoError(t, err) {
					return
				}
				s, err := sign.NewSigner(k.signer, k.cert, hash, false)
				if !assert.NoError(t, err) {
					return
				}
				sd, err := s.SignedData(module)
				if !assert.NoError(t, err) || !assert.NoError(t, os.WriteFile(tag+".p7s", sd, 0o644)) {
					return
				}
				verify := func(content string) error {
					return exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", tag+".p7s",
						"-content", content, "-certfile", k.certFile, "-nointern", "-noverify", "-out", os.DevNull).Run()
				}
				assert.NoError(t, verify(path), "openssl cms -verify of gokmod's %s %s signature of %s", k.name, h, path)
				changed := bytes.Clone(module)
				changed[len(changed)/2] ^= 1
				if assert.NoError(t, os.WriteFile(tag+".changed", changed, 0o644)) {
					assert.Error(t, verify(tag+".changed"), "openssl must refuse a changed module")
				}

				out, err := exec.Command(signFile, h, k.keyFile, k.certFile, path, tag+".signed").CombinedOutput()
				if !assert.NoError(t, err, "sign-file: %s", out) {
					return
				}
				signed, err := os.ReadFile(tag + ".signed")
				if !assert.NoError(t, err) {
					return
				}
				got, err := sign.Verify(signed, []*x509.Certificate{other.cert, k.cert})
				if assert.NoError(t, err, "Verify of sign-file's %s %s signature of %s", k.name, h, path) {
					assert.Equal(t, k.cert.Raw, got.Raw)
				}
				_, err = sign.Verify(signed, []*x509.Certificate{other.cert})
				assert.ErrorIs(t, err, sign.ErrNoSigner)
				for _, f := range []string{".p7s", ".changed", ".signed"} {
					os.Remove(tag + f)
				}
				checked.Add(1)
			}
		}
	})
	t.Logf("%d modules, %d ECDSA key and hash pairs verified both ways", len(modules), checked.Load())
	require.Equal(t, int64(len(modules)*2*3), checked.Load())
}

// TestEncryptedKeysFromOpenSSL: the encrypted key files openssl writes
// decrypt with the passphrase (legacy PEM encryption and PKCS#8 PBES2
// with each PRF and AES key size), fail with ErrPassphrase without it or
// with a wrong one, and PKCS#8 schemes other than PBES2 with PBKDF2 fail
// with ErrEncryptedPKCS8.
func TestEncryptedKeysFromOpenSSL(t *testing.T) {
	openssl := testmod.RequireTool(t, "openssl")
	dir := t.TempDir()
	k := newOpensslKey(t, openssl, dir, "p384", "ec", "ec_paramgen_curve:P-384")
	pass := "pass:correct horse"
	cases := []struct {
		name string
		args []string
		want error
	}{
		{"legacy PEM AES-256", []string{"ec", "-aes256", "-passout", pass}, nil},
		{"PKCS#8 default", []string{"pkcs8", "-topk8", "-passout", pass}, nil},
		{"PKCS#8 AES-128 SHA-1", []string{"pkcs8", "-topk8", "-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1", "-passout", pass}, nil},
		{"PKCS#8 AES-192 SHA-384", []string{"pkcs8", "-topk8", "-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA384", "-passout", pass}, nil},
		{"PKCS#8 AES-256 SHA-512", []string{"pkcs8", "-topk8", "-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA512", "-iter", "10000", "-passout", pass}, nil},
		{"PKCS#8 scrypt", []string{"pkcs8", "-topk8", "-scrypt", "-passout", pass}, sign.ErrEncryptedPKCS8},
		{"PKCS#8 3DES", []string{"pkcs8", "-topk8", "-v2", "des3", "-passout", pass}, sign.ErrEncryptedPKCS8},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, strconv.Itoa(i)+".pem")
			out, err := exec.Command(openssl, append(c.args, "-in", k.keyFile, "-out", file)...).CombinedOutput()
			require.NoError(t, err, "openssl: %s", out)
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			key, err := sign.ParsePrivateKey(data, []byte("correct horse"))
			if c.want != nil {
				require.ErrorIs(t, err, c.want)
				return
			}
			require.NoError(t, err)
			require.True(t, key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.signer.Public()))
			_, err = sign.ParsePrivateKey(data, nil)
			require.ErrorIs(t, err, sign.ErrPassphrase)
			_, err = sign.ParsePrivateKey(data, []byte("wrong horse"))
			require.Error(t, err)
		})
	}
}

// TestVerifyOpenSSLMessages: Verify takes a detached attribute-less CMS
// from openssl cms -sign (with the signer's certificate inside, which the
// kernel also accepts) and refuses, as the kernel does, one with signed
// attributes and one that carries the module inside.
func TestVerifyOpenSSLMessages(t *testing.T) {
	openssl := testmod.RequireTool(t, "openssl")
	dir := t.TempDir()
	k := newOpensslKey(t, openssl, dir, "rsa2048", "rsa:2048")
	module := fakeModule(t, 20000)
	modFile := filepath.Join(dir, "m.ko")
	require.NoError(t, os.WriteFile(modFile, module, 0o644))
	cases := []struct {
		name  string
		flags []string
		want  error
	}{
		{"no attributes, certificate inside", []string{"-noattr", "-md", "sha384"}, nil},
		{"no attributes, no certificates", []string{"-noattr", "-nocerts", "-md", "sha512"}, nil},
		{"signed attributes", []string{"-nocerts", "-md", "sha256"}, sign.ErrRejected},
		{"content inside", []string{"-noattr", "-nocerts", "-nodetach"}, sign.ErrRejected},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p7s := filepath.Join(dir, strconv.Itoa(i)+".p7s")
			args := append([]string{"cms", "-sign", "-binary", "-outform", "DER", "-in", modFile, "-signer", k.certFile, "-inkey", k.keyFile, "-out", p7s}, c.flags...)
			out, err := exec.Command(openssl, args...).CombinedOutput()
			require.NoError(t, err, "openssl: %s", out)
			sd, err := os.ReadFile(p7s)
			require.NoError(t, err)
			got, err := sign.Verify(sign.Append(module, sd), []*x509.Certificate{k.cert})
			if c.want != nil {
				require.ErrorIs(t, err, c.want)
				return
			}
			require.NoError(t, err)
			require.Equal(t, k.cert.Raw, got.Raw)
		})
	}
}
