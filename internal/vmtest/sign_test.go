package vmtest_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/internal/modsig"
	"github.com/gokmod/modprobe/internal/signtest"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/internal/vmtest"
	"github.com/gokmod/modprobe/kmodimage"
	"github.com/gokmod/modprobe/sign"
	"github.com/gokmod/modprobe/sign/signzstd"
)

// signModule is the leaf module the signing proofs load by path: present
// in both trees, needed by nothing and loaded by no other guest test.
const signModule = "ifb"

// signKeys are the keys of the signing proofs and the digest each signs
// with.
var signKeys = []struct {
	kind, hash string
}{{signtest.RSA2048, "sha256"}, {signtest.P384, "sha384"}}

// signFiles returns the inputs of the guest's TestModuleSignatures: for
// each key of signKeys (fresh, made here, so that no kernel trusts it),
// Debian's signModule with its signature removed and then signed by
// gokmod (package sign) and by the kernel's sign-file, plain (.ko) and
// compressed as kbuild compresses (.ko.xz: gokmod signs the compressed
// file, decompressing and compressing again; sign-file's output is
// compressed by the host's xz, as kbuild signs and then compresses);
// and each of those with its PKCS#7 message made malformed (its outer
// tag changed, the trailer left intact), which the kernel must refuse
// even when it does not enforce signatures. Keyed by guest path:
// TestdataDir/sign/KIND/SIGNER[-corrupt].ko[.xz].
func signFiles(t *testing.T, ctx context.Context, d distribution) map[string]vmtest.File {
	t.Helper()
	signFile := testmod.SignFile(t)
	rels, err := vmtest.ModuleClosure(d.root, d.release, []string{signModule})
	require.NoError(t, err)
	require.Len(t, rels, 1, "%s needs nothing", signModule)
	mod, err := vmtest.ReadModule(ctx, filepath.Join(testmod.ModuleDir(d.root, d.release), rels[0]))
	require.NoError(t, err)
	plain := vmtest.Unsigned(mod)
	require.Less(t, len(plain), len(mod), "Debian's %s is signed", signModule)
	dir := t.TempDir()
	unsignedPath := filepath.Join(dir, signModule+".ko")
	require.NoError(t, os.WriteFile(unsignedPath, plain, 0o644))
	unsignedXZ, err := vmtest.CompressModule(ctx, plain, ".ko.xz")
	require.NoError(t, err)

	files := map[string]vmtest.File{}
	put := func(name string, data []byte) {
		files[vmtest.TestdataDir+"/sign/"+name] = vmtest.DataFile(data, 0o644)
	}
	for _, k := range signKeys {
		key := signtest.New(t, k.kind, dir)
		h, err := sign.ParseHash(k.hash)
		require.NoError(t, err)
		signer, err := sign.NewSigner(key.Signer, key.Cert, h, false)
		require.NoError(t, err)
		opts := sign.Options{Zstd: signzstd.Compress}
		ours, _, err := signer.SignFile(plain, opts)
		require.NoError(t, err)
		oursXZ, _, err := signer.SignFile(unsignedXZ, opts)
		require.NoError(t, err)
		theirsPath := filepath.Join(dir, k.kind+"-signfile.ko")
		out, err := exec.CommandContext(ctx, signFile, k.hash, key.KeyFile, key.CertFile, unsignedPath, theirsPath).CombinedOutput()
		require.NoError(t, err, "sign-file: %s", out)
		theirs, err := os.ReadFile(theirsPath)
		require.NoError(t, err)
		theirsXZ, err := vmtest.CompressModule(ctx, theirs, ".ko.xz")
		require.NoError(t, err)
		if h == crypto.SHA256 && k.kind == signtest.RSA2048 {
			require.Equal(t, theirs, ours, "RSA signatures are deterministic: gokmod's module is sign-file's")
		}
		for signer, v := range map[string][2][]byte{"gokmod": {ours, oursXZ}, "signfile": {theirs, theirsXZ}} {
			for i, suffix := range []string{".ko", ".ko.xz"} {
				checkSigned(t, v[i], key.Cert, plain)
				put(k.kind+"/"+signer+suffix, v[i])
				image, err := sign.Image(v[i], 0)
				require.NoError(t, err)
				bad := corruptSignature(t, image)
				_, err = sign.Verify(bad, []*x509.Certificate{key.Cert})
				require.ErrorIs(t, err, sign.ErrMalformed, "%s %s%s corrupted", k.kind, signer, suffix)
				if suffix == ".ko.xz" {
					bad, err = vmtest.CompressModule(ctx, bad, suffix)
					require.NoError(t, err)
				}
				put(k.kind+"/"+signer+"-corrupt"+suffix, bad)
			}
		}
	}
	return files
}

// checkSigned fails unless file verifies with cert (as the kernel would
// with cert in its keyring) and its signature covers the module plain.
func checkSigned(t *testing.T, file []byte, cert *x509.Certificate, plain []byte) {
	t.Helper()
	_, err := sign.Verify(file, []*x509.Certificate{cert})
	require.NoError(t, err)
	image, err := sign.Image(file, 0)
	require.NoError(t, err)
	body, _, err := modsig.Split(image)
	require.NoError(t, err)
	require.True(t, bytes.Equal(body, plain), "the signature covers the unsigned module")
}

// corruptSignature returns the signed module image mod with its PKCS#7
// message's outer SEQUENCE tag changed: the trailer still holds, the
// message no longer parses (the kernel's ASN.1 decoder fails with
// EBADMSG before it looks for a key).
func corruptSignature(t *testing.T, mod []byte) []byte {
	t.Helper()
	_, sig, err := modsig.Split(mod)
	require.NoError(t, err)
	require.Equal(t, byte(0x30), sig[0], "a DER SEQUENCE")
	out := bytes.Clone(mod)
	at := len(mod) - len(modsig.Magic) - modsig.InfoLen - len(sig)
	out[at] = 0x31 // a SET
	return out
}

// kmmSignedFiles returns the inputs of the guest's TestKMMWorkerSigned: the
// KMM image of kmmFiles with every module's signature removed, pushed to
// a registry, signed there by kmodimage.SignImage (gokmod kmm sign) with
// a fresh RSA key (every module in filesToSign; .ko.xz on Debian 13), the signed image pulled and
// extracted below TestdataDir/kmm-signed/shared; its configuration; and
// the key's certificate (cert.pem), which the guest verifies the loaded
// files with.
func kmmSignedFiles(t *testing.T, ctx context.Context, d distribution) map[string]vmtest.File {
	t.Helper()
	key := signtest.New(t, signtest.RSA2048, t.TempDir())
	signer, err := sign.NewSigner(key.Signer, key.Cert, crypto.SHA256, false)
	require.NoError(t, err)
	tree, rels := kmmTree(t, ctx, d, true)
	// KMM expands ${KERNEL_FULL_VERSION} to the normalised release
	// (Debian 13's "+" becomes "_"), which names no directory of the
	// image there: the variable where it matches, the release otherwise.
	dirName := "${KERNEL_FULL_VERSION}"
	if kmodimage.NormalizeVersion(d.release) != d.release {
		dirName = d.release
	}
	var toSign []string
	for _, rel := range rels {
		toSign = append(toSign, "/opt/lib/modules/"+dirName+"/"+rel)
	}
	shared := t.TempDir()
	ref := signAndExtract(t, ctx, d.release, tree, signer, toSign, shared)
	modDir := filepath.Join(shared, "opt/lib/modules", d.release)
	for _, rel := range rels {
		data, err := os.ReadFile(filepath.Join(modDir, rel))
		require.NoError(t, err)
		_, err = sign.Verify(data, []*x509.Certificate{key.Cert})
		require.NoError(t, err, "%s of the signed image", rel)
	}
	files, err := vmtest.DirFiles(shared, vmtest.TestdataDir+"/kmm-signed/shared")
	require.NoError(t, err)
	config := "kernelVersion: " + d.release + "\ncontainerImage: " + ref + "\n" +
		"modprobe:\n  moduleName: dummy\n  modulesLoadingOrder: [dummy, nls_utf8, nls_cp437]\n"
	files[vmtest.TestdataDir+"/kmm-signed/config.yaml"] = vmtest.DataFile([]byte(config), 0o644)
	files[vmtest.TestdataDir+"/kmm-signed/cert.pem"] = vmtest.HostFile(key.CertFile)
	return files
}

// removeSignatures rewrites every module below dir without its
// signature, in its format.
func removeSignatures(t *testing.T, ctx context.Context, dir string, rels []string) {
	t.Helper()
	for _, rel := range rels {
		p := filepath.Join(dir, rel)
		mod, err := vmtest.ReadModule(ctx, p)
		require.NoError(t, err)
		data, err := vmtest.CompressModule(ctx, vmtest.Unsigned(mod), vmtest.ModuleSuffix(rel))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, data, 0o644))
	}
}

// tagOf returns release as an image tag (a tag has no '+', which Debian
// 13's releases have).
func tagOf(release string) string { return strings.ReplaceAll(release, "+", "_") }
