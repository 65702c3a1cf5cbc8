package kmodimage

import (
	"archive/tar"
	"bytes"
	"crypto"
	"crypto/x509"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/internal/modsig"
	"github.com/gokmod/modprobe/internal/registrytest"
	"github.com/gokmod/modprobe/internal/signtest"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/sign"
)

// signTestSigner returns a signer with a fresh RSA key, sha256 as KMM
// signs, and the key's certificate.
func signTestSigner(t *testing.T) (*sign.Signer, *x509.Certificate) {
	t.Helper()
	k := signtest.New(t, signtest.RSA2048, t.TempDir())
	s, err := sign.NewSigner(k.Signer, k.Cert, crypto.SHA256, false)
	require.NoError(t, err)
	return s, k.Cert
}

// unsignedModule returns the module rel of Debian 12's tree without
// Debian's signature, as an unsigned kmod image holds it.
func unsignedModule(t *testing.T, rel string) []byte {
	t.Helper()
	root, release := testmod.DebianTree(t)
	data, err := os.ReadFile(filepath.Join(testmod.ModuleDir(root, release), rel))
	require.NoError(t, err)
	body, _, err := modsig.Split(data)
	require.NoError(t, err, rel)
	return body
}

// xzModule compresses a module as kbuild does, with the host's xz.
func xzModule(t *testing.T, mod []byte) []byte {
	t.Helper()
	cmd := exec.Command("xz", "--check=crc32", "--lzma2=dict=1MiB", "-c")
	cmd.Stdin = bytes.NewReader(mod)
	out, err := cmd.Output()
	require.NoError(t, err, "xz (Debian package xz-utils)")
	return out
}

// TestSignImageRegistry signs two modules (one plain, one .ko.xz) of a
// two-layer kmod image in a real registry, with the file names given as
// KMM gives them (${KERNEL_FULL_VERSION}), and pulls the result: its
// layers are the unsigned image's and one more holding exactly the
// signed files; every signed file verifies with the certificate and is
// the unsigned module plus a signature; every other file is unchanged.
func TestSignImageRegistry(t *testing.T) {
	_, release := testmod.DebianTree(t)
	modDir := "opt/lib/modules/" + release + "/"
	dummy := unsignedModule(t, "kernel/drivers/net/dummy.ko")
	utf8 := unsignedModule(t, "kernel/fs/nls/nls_utf8.ko")
	cp437 := unsignedModule(t, "kernel/fs/nls/nls_cp437.ko")
	base := registrytest.Image(t,
		[]registrytest.Entry{
			{Name: modDir + "kernel/drivers/net/dummy.ko", Data: dummy, Mode: 0o600},
			{Name: modDir + "kernel/fs/nls/nls_utf8.ko.xz", Data: xzModule(t, utf8)},
			{Name: "etc/os-release", Data: []byte("ID=kmod-image\n")},
		},
		[]registrytest.Entry{
			{Name: modDir + "kernel/fs/nls/nls_cp437.ko", Data: cp437},
		})
	reg := registrytest.Start(t)
	tag := strings.ReplaceAll(release, "+", "_")
	unsigned := reg.Push(t, "kmod/unsigned", tag, base)
	signer, cert := signTestSigner(t)
	dest := reg.Host + "/kmod/signed:" + tag
	opts := SignOptions{
		Pull:   PullOptions{Insecure: true},
		Signer: signer,
		FilesToSign: []string{
			"/opt/lib/modules/${KERNEL_FULL_VERSION}/kernel/drivers/net/dummy.ko",
			"/opt/lib/modules/$KERNEL_FULL_VERSION/kernel/fs/nls/nls_utf8.ko.xz",
		},
		KernelVersion: release,
	}
	res, err := SignImage(t.Context(), unsigned, dest, opts)
	require.NoError(t, err)
	wantFiles := []string{"/" + modDir + "kernel/drivers/net/dummy.ko", "/" + modDir + "kernel/fs/nls/nls_utf8.ko.xz"}
	assert.Equal(t, wantFiles, res.Files)
	assert.Equal(t, imgTestDigest(t, base), res.Unsigned)

	// By tag, as KMM's worker pulls containerImage; the digest is the
	// one SignImage returned.
	signed, err := OpenImage(t.Context(), dest, PullOptions{Insecure: true})
	require.NoError(t, err)
	require.Equal(t, res.Digest, imgTestDigest(t, signed))
	require.True(t, strings.HasSuffix(res.Ref, "/kmod/signed@"+res.Digest.String()), res.Ref)
	baseLayers := layerDigests(t, base)
	signedLayers := layerDigests(t, signed)
	require.Len(t, signedLayers, len(baseLayers)+1)
	assert.Equal(t, baseLayers, signedLayers[:len(baseLayers)], "the unsigned image's layers come first")
	layers, err := signed.Layers()
	require.NoError(t, err)
	last := layerEntries(t, layers[len(layers)-1])
	assert.Equal(t, []string{modDir + "kernel/drivers/net/dummy.ko", modDir + "kernel/fs/nls/nls_utf8.ko.xz"}, slices.Sorted(func(yield func(string) bool) {
		for n := range last {
			if !yield(n) {
				return
			}
		}
	}))
	assert.Equal(t, int64(0o600), last[modDir+"kernel/drivers/net/dummy.ko"].Mode, "the file's mode is kept")

	before, after := t.TempDir(), t.TempDir()
	for dir, img := range map[string]v1.Image{before: base, after: signed} {
		require.NoError(t, Extract(t.Context(), img, dir, ExtractOptions{KernelVersion: release}))
	}
	unsignedBodies := map[string][]byte{"kernel/drivers/net/dummy.ko": dummy, "kernel/fs/nls/nls_utf8.ko.xz": utf8}
	n := 0
	err = filepath.WalkDir(filepath.Join(before, modDir), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(filepath.Join(before, modDir), p)
		require.NoError(t, err)
		was, err := os.ReadFile(p)
		require.NoError(t, err)
		now, err := os.ReadFile(filepath.Join(after, modDir, rel))
		require.NoError(t, err)
		n++
		body, ok := unsignedBodies[rel]
		if !ok {
			assert.Equal(t, was, now, "%s is not signed and must be unchanged", rel)
			return nil
		}
		assert.NotEqual(t, was, now, rel)
		got, err := sign.Verify(now, []*x509.Certificate{cert})
		require.NoError(t, err, rel)
		assert.True(t, got.Equal(cert), rel)
		if strings.HasSuffix(rel, ".xz") {
			assert.True(t, bytes.HasPrefix(now, []byte("\xfd7zXZ\x00")), "%s is still xz", rel)
		}
		image, err := sign.Image(now, 0)
		require.NoError(t, err)
		signedBody, _, err := modsig.Split(image)
		require.NoError(t, err)
		assert.Equal(t, body, signedBody, "%s: the signature covers the unsigned module", rel)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 3, n, "modules compared")
}

// layerDigests returns the digests of img's layers.
func layerDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	m, err := img.Manifest()
	require.NoError(t, err)
	var ds []v1.Hash
	for _, l := range m.Layers {
		ds = append(ds, l.Digest)
	}
	return ds
}

// layerEntries returns the headers of a layer's tar archive by name.
func layerEntries(t *testing.T, l v1.Layer) map[string]*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]*tar.Header{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		out[hdr.Name] = hdr
	}
}

// TestSignImageRefusals: files to sign that the image lacks, that a
// later layer removed or replaced, or that are not regular files, and
// bad lists, fail before anything is pushed, naming the file.
func TestSignImageRefusals(t *testing.T) {
	reg := registrytest.Start(t)
	img := registrytest.Image(t,
		[]registrytest.Entry{
			{Name: "opt/lib/modules/6.1.0-1-amd64/a.ko", Data: []byte("\x7fELF a")},
			{Name: "opt/lib/modules/6.1.0-1-amd64/gone/b.ko", Data: []byte("\x7fELF b")},
			{Name: "opt/lib/modules/6.1.0-1-amd64/opaque/c.ko", Data: []byte("\x7fELF c")},
			{Name: "opt/lib/modules/6.1.0-1-amd64/dir.ko/", Type: tar.TypeDir},
			{Name: "opt/lib/modules/6.1.0-1-amd64/link.ko", Type: tar.TypeSymlink, Linkname: "a.ko"},
			{Name: "opt/lib/modules/6.1.0-1-amd64/hard.ko", Type: tar.TypeLink, Linkname: "opt/lib/modules/6.1.0-1-amd64/a.ko"},
		},
		[]registrytest.Entry{
			{Name: "opt/lib/modules/6.1.0-1-amd64/.wh.a.ko"},
			{Name: "opt/lib/modules/6.1.0-1-amd64/.wh.gone"},
			{Name: "opt/lib/modules/6.1.0-1-amd64/opaque/.wh..wh..opq"},
		})
	unsigned := reg.Push(t, "kmod/refused", "v1", img)
	signer, _ := signTestSigner(t)
	dest := reg.Host + "/kmod/refused-signed:v1"
	for _, c := range []struct {
		name, file, kernel string
		want               error
		msg                string
	}{
		{"absent", "/opt/lib/modules/6.1.0-1-amd64/absent.ko", "", ErrNotInImage, "absent.ko"},
		{"whiteout", "/opt/lib/modules/6.1.0-1-amd64/a.ko", "", ErrNotInImage, "a.ko"},
		{"whiteout of its directory", "/opt/lib/modules/${KERNEL_FULL_VERSION}/gone/b.ko", "6.1.0-1-amd64", ErrNotInImage, "gone/b.ko"},
		{"opaque directory", "/opt/lib/modules/6.1.0-1-amd64/opaque/c.ko", "", ErrNotInImage, "opaque/c.ko"},
		{"directory", "/opt/lib/modules/6.1.0-1-amd64/dir.ko", "", ErrNotSignable, "dir.ko"},
		{"symlink", "/opt/lib/modules/6.1.0-1-amd64/link.ko", "", ErrNotSignable, "link.ko"},
		{"hard link", "/opt/lib/modules/6.1.0-1-amd64/hard.ko", "", ErrNotSignable, "hard.ko"},
		{"relative", "opt/lib/modules/6.1.0-1-amd64/a.ko", "", nil, "not an absolute path"},
		{"variable without kernel", "/opt/lib/modules/${KERNEL_FULL_VERSION}/a.ko", "", nil, "no kernel version"},
		{"bad kernel", "/opt/lib/modules/${KERNEL_FULL_VERSION}/a.ko", "6.1", ErrBadVersion, "6.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := SignImage(t.Context(), unsigned, dest, SignOptions{
				Pull: PullOptions{Insecure: true}, Signer: signer, FilesToSign: []string{c.file}, KernelVersion: c.kernel,
			})
			require.Error(t, err)
			if c.want != nil {
				require.ErrorIs(t, err, c.want)
			}
			assert.Contains(t, err.Error(), c.msg)
		})
	}
	_, err := SignImage(t.Context(), unsigned, dest, SignOptions{
		Pull: PullOptions{Insecure: true}, Signer: signer,
		FilesToSign: []string{"/opt/lib/modules/6.1.0-1-amd64/x.ko", "/opt/lib/modules/6.1.0-1-amd64/./x.ko"},
	})
	assert.ErrorContains(t, err, "listed twice")
	ref, err := name.ParseReference(dest, name.Insecure)
	require.NoError(t, err)
	_, err = remote.Head(ref, remote.WithContext(t.Context()))
	assert.Error(t, err, "nothing was pushed")
}

// TestSignImageKeyFiles signs with the key and certificate files as KMM
// mounts its secrets (no Signer); a missing file, or a certificate of
// another key, fails naming the files before anything is pulled.
func TestSignImageKeyFiles(t *testing.T) {
	reg := registrytest.Start(t)
	img := registrytest.Image(t, []registrytest.Entry{{Name: "opt/lib/modules/6.1.0-1-amd64/m.ko", Data: []byte("\x7fELF m")}})
	unsigned := reg.Push(t, "kmod/keyfiles", "v1", img)
	dir := t.TempDir()
	rsaKey, ecKey := signtest.New(t, signtest.RSA2048, dir), signtest.New(t, signtest.P384, dir)
	opts := SignOptions{
		Pull: PullOptions{Insecure: true}, KeyFile: rsaKey.KeyFile, CertFile: rsaKey.CertFile,
		FilesToSign: []string{"/opt/lib/modules/6.1.0-1-amd64/m.ko"},
	}
	dest := reg.Host + "/kmod/keyfiles-signed:v1"
	res, err := SignImage(t.Context(), unsigned, dest, opts)
	require.NoError(t, err)
	signed, err := OpenImage(t.Context(), res.Ref, PullOptions{Insecure: true})
	require.NoError(t, err)
	out := t.TempDir()
	require.NoError(t, Extract(t.Context(), signed, out, ExtractOptions{KernelVersion: "6.1.0-1-amd64"}))
	data, err := os.ReadFile(filepath.Join(out, "opt/lib/modules/6.1.0-1-amd64/m.ko"))
	require.NoError(t, err)
	_, err = sign.Verify(data, []*x509.Certificate{rsaKey.Cert})
	require.NoError(t, err)

	missing := filepath.Join(dir, "absent.pem")
	for _, c := range []struct {
		key, cert, msg string
	}{
		{missing, rsaKey.CertFile, missing},
		{rsaKey.KeyFile, missing, missing},
		{rsaKey.KeyFile, ecKey.CertFile, rsaKey.KeyFile + ", " + ecKey.CertFile},
		{"", rsaKey.CertFile, "no key and certificate files"},
	} {
		o := opts
		o.KeyFile, o.CertFile = c.key, c.cert
		_, err := SignImage(t.Context(), unsigned, dest, o)
		assert.ErrorContains(t, err, c.msg)
	}
}
