package kmodimage

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/sign"
	"github.com/gokmod/modprobe/sign/signzstd"
)

// ErrNotSignable reports a file to sign that the image holds as something
// other than a regular file (a directory, a symbolic link, a device), or
// as a hard link to a file that is not among the files to sign.
var ErrNotSignable = errors.New("not a regular file")

// SignOptions say what SignImage signs and how it reaches the registries.
type SignOptions struct {
	// Pull are the registry options of both the pull of the unsigned
	// image and the push of the signed one (KMM's
	// unsignedImageRegistryTLS and the Module's registryTLS are one set
	// here). Its Timeout bounds each of the two.
	Pull PullOptions
	// Signer signs the files. When nil, KeyFile and CertFile name the
	// key and certificate as KMM mounts its keySecret and certSecret, and
	// the files are signed with Hash.
	Signer *sign.Signer
	// KeyFile is the private key, PEM or DER (see sign.ParsePrivateKey),
	// decrypted with Passphrase if it is encrypted.
	KeyFile string
	// CertFile is the key's X.509 certificate, PEM or DER.
	CertFile string
	// Hash is the digest of the signatures; 0 means crypto.SHA256, KMM's.
	Hash crypto.Hash
	// Passphrase decrypts an encrypted KeyFile (sign-file's
	// KBUILD_SIGN_PIN).
	Passphrase []byte
	// FilesToSign are KMM's sign.filesToSign: absolute paths in the image,
	// which may hold KMM's variables ($KERNEL_FULL_VERSION and the others
	// KernelVars lists), expanded as KMM expands them: to the normalised
	// version, so that on a kernel whose release holds a character
	// NormalizeVersion replaces ("6.12.118+deb13-amd64") the variable
	// does not name the image's module directory, which the release
	// names.
	FilesToSign []string
	// KernelVersion is the kernel the image is for, whose variables
	// FilesToSign may name. When empty, a file naming a variable is an
	// error.
	KernelVersion string
	// MaxFileSize bounds each file to sign, compressed and decompressed;
	// 0 means DefaultMaxFileSize.
	MaxFileSize int64
}

// SignedImage is what SignImage pushed.
type SignedImage struct {
	// Ref is the destination repository with the signed image's digest:
	// "REPO@sha256:HEX".
	Ref string
	// Digest is the signed image's manifest digest.
	Digest v1.Hash
	// Unsigned is the unsigned image's manifest digest.
	Unsigned v1.Hash
	// Files are the image paths signed, FilesToSign expanded, in order.
	Files []string
}

// SignImage does what KMM's sign build does without kernel-devel or a
// build pod: it pulls the image unsigned (OpenImage, every layer checked
// against its digests as Extract checks them), signs the files
// opts.FilesToSign names in it as the kernel's sign-file signs them
// (a compressed module, .ko.xz, .ko.gz or .ko.zst, is decompressed,
// signed and compressed again in its format), and pushes to dest an image
// whose layers are the unsigned image's followed by one new layer holding
// the signed files at the same paths, with the same modes, owners and
// modification times. The new layer has the media type of the unsigned
// image's kind (Docker or OCI) and a history entry naming the files.
//
// A file to sign that the image lacks (never added, or removed by a
// whiteout) is an error wrapping ErrNotInImage; one that is not a regular
// file wraps ErrNotSignable. Nothing is pushed unless every file was
// signed.
func SignImage(ctx context.Context, unsigned, dest string, opts SignOptions) (*SignedImage, error) {
	signer := opts.Signer
	if signer == nil {
		var err error
		if signer, err = signerFromFiles(opts); err != nil {
			return nil, err
		}
	}
	files, err := expandFilesToSign(opts.FilesToSign, opts.KernelVersion)
	if err != nil {
		return nil, err
	}
	destRef, err := parseRef(dest, opts.Pull)
	if err != nil {
		return nil, fmt.Errorf("kmodimage: sign: destination %q: %w", dest, err)
	}
	timeout := cmp.Or(opts.Pull.Timeout, DefaultPullTimeout)
	ctx, cancel := context.WithTimeout(ctx, 2*timeout+time.Second)
	defer cancel()
	opts.Pull.Timeout = timeout
	img, err := OpenImage(ctx, unsigned, opts.Pull)
	if err != nil {
		return nil, err
	}
	im, err := readManifest(img)
	if err != nil {
		return nil, err
	}
	found, err := readFilesToSign(ctx, im, files, cmp.Or(opts.MaxFileSize, DefaultMaxFileSize))
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", im.name, err)
	}
	layer, err := signedLayer(found, files, signer, im.m.MediaType, cmp.Or(opts.MaxFileSize, DefaultMaxFileSize))
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", im.name, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", im.name, err)
	}
	signed, err := mutate.Append(img, mutate.Addendum{
		Layer:     layer.layer,
		MediaType: layer.mediaType,
		History: v1.History{
			Created:   cfg.Created,
			CreatedBy: "gokmod kmm sign " + strings.Join(files, " "),
			Comment:   "signed kernel modules",
		},
	})
	if err != nil {
		return nil, err
	}
	if err := remote.Write(destRef, signed, pushOptions(ctx, opts.Pull)...); err != nil {
		return nil, fmt.Errorf("kmodimage: sign: pushing %q: %w", dest, err)
	}
	d, err := signed.Digest()
	if err != nil {
		return nil, err
	}
	return &SignedImage{Ref: destRef.Context().Digest(d.String()).String(), Digest: d, Unsigned: im.digest, Files: files}, nil
}

// maxKeyFile bounds a key or certificate file.
const maxKeyFile = 1 << 20

// signerFromFiles returns the signer of opts' KeyFile, CertFile, Hash and
// Passphrase.
func signerFromFiles(opts SignOptions) (*sign.Signer, error) {
	if opts.KeyFile == "" || opts.CertFile == "" {
		return nil, errors.New("kmodimage: sign: no signer, and no key and certificate files")
	}
	keyData, err := fileio.ReadInput(opts.KeyFile, maxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("kmodimage: sign: %w", err)
	}
	key, err := sign.ParsePrivateKey(keyData, opts.Passphrase)
	if err != nil {
		return nil, fmt.Errorf("kmodimage: sign: %s: %w", opts.KeyFile, err)
	}
	certData, err := fileio.ReadInput(opts.CertFile, maxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("kmodimage: sign: %w", err)
	}
	cert, err := sign.ParseCertificate(certData)
	if err != nil {
		return nil, fmt.Errorf("kmodimage: sign: %s: %w", opts.CertFile, err)
	}
	s, err := sign.NewSigner(key, cert, cmp.Or(opts.Hash, crypto.SHA256), false)
	if err != nil {
		return nil, fmt.Errorf("kmodimage: sign: %s, %s: %w", opts.KeyFile, opts.CertFile, err)
	}
	return s, nil
}

// parseRef parses a registry reference with opts' insecurity.
func parseRef(ref string, opts PullOptions) (name.Reference, error) {
	if strings.HasPrefix(ref, ociPrefix) || strings.HasPrefix(ref, tarballPrefix) {
		return nil, errors.New("not a registry reference")
	}
	var nameOpts []name.Option
	if opts.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	return name.ParseReference(ref, nameOpts...)
}

// pushOptions are remote.Write's options for a push under opts: the
// pull's transport (TLS settings, bounds, redirects) and retries.
func pushOptions(ctx context.Context, opts PullOptions) []remote.Option {
	keychain := opts.Keychain
	if keychain == nil {
		keychain = authn.DefaultKeychain
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(keychain),
		remote.WithTransport(newPullTransport(opts)),
		remote.WithRetryBackoff(pullRetry()),
	}
}

// expandFilesToSign expands KMM's variables in files for kernel and
// returns the image paths, clean and without the leading "/".
func expandFilesToSign(files []string, kernel string) ([]string, error) {
	if len(files) == 0 {
		return nil, errors.New("kmodimage: sign: no files to sign")
	}
	var vars []string
	if kernel != "" {
		var err error
		if vars, err = KernelVars(kernel); err != nil {
			return nil, err
		}
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(files))
	for _, f := range files {
		if kernel == "" && strings.Contains(f, "$") {
			return nil, fmt.Errorf("kmodimage: sign: file to sign %q names a variable and no kernel version is given", f)
		}
		p, err := Substitute(f, vars)
		if err != nil {
			return nil, err
		}
		if !path.IsAbs(p) {
			return nil, fmt.Errorf("kmodimage: sign: file to sign %q: not an absolute path", p)
		}
		rel, err := cleanName(strings.TrimLeft(p, "/"))
		if err != nil || rel == "" {
			return nil, fmt.Errorf("kmodimage: sign: file to sign %q: not a file's path", p)
		}
		if seen[rel] {
			return nil, fmt.Errorf("kmodimage: sign: file to sign %q listed twice (signing it twice would append a second signature)", p)
		}
		seen[rel] = true
		out = append(out, "/"+rel)
	}
	return out, nil
}

// imageFile is a file to sign as the image's layers left it.
type imageFile struct {
	layer int         // the layer that wrote it
	hdr   *tar.Header // its entry
	data  []byte      // its contents
	err   error       // why it cannot be signed, if it cannot
}

// readFilesToSign reads the files (absolute image paths) from the layers
// of im, each layer checked against its digests, applying whiteouts as
// Extract does, and returns them by path without the leading "/".
func readFilesToSign(ctx context.Context, im *imageManifest, files []string, maxSize int64) (map[string]*imageFile, error) {
	wanted := map[string]bool{}
	for _, f := range files {
		wanted[f[1:]] = true
	}
	diffIDs, err := im.diffIDs()
	if err != nil {
		return nil, err
	}
	layers, err := im.img.Layers()
	if err != nil {
		return nil, err
	}
	if len(layers) != len(im.m.Layers) {
		return nil, fmt.Errorf("%d layers, the manifest lists %d", len(layers), len(im.m.Layers))
	}
	found := map[string]*imageFile{}
	err = walkLayers(ctx, im, layers, diffIDs, func(i int, tr *tar.Reader) error {
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := noteEntry(found, wanted, i, hdr, tr, maxSize); err != nil {
				return &EntryError{Entry: hdr.Name, Err: err}
			}
		}
	})
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		switch e := found[f[1:]]; {
		case e == nil:
			return nil, fmt.Errorf("file to sign %s: %w", f, ErrNotInImage)
		case e.err != nil:
			return nil, fmt.Errorf("file to sign %s: %w", f, e.err)
		}
	}
	return found, nil
}

// noteEntry records what the entry hdr of layer i does to the files to
// sign: a whiteout removes them from lower layers, another entry above
// one replaces it, and an entry at a wanted path is read (a regular file,
// or a hard link to a file read before) or noted as unsignable.
func noteEntry(found map[string]*imageFile, wanted map[string]bool, i int, hdr *tar.Header, r io.Reader, maxSize int64) error {
	name, err := cleanName(hdr.Name)
	if err != nil || name == "" {
		return err
	}
	dir, base := path.Dir(name), path.Base(name)
	if strings.HasPrefix(base, whiteoutPrefix) {
		target := dir // the opaque directory's contents
		switch {
		case base == whiteoutOpaque:
		case strings.HasPrefix(base, whiteoutMeta):
			return nil
		default:
			target = path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix))
		}
		for p, f := range found {
			if f.layer < i && within(p, target) && (base != whiteoutOpaque || p != target) {
				delete(found, p)
			}
		}
		return nil
	}
	if hdr.Typeflag != tar.TypeDir {
		// A file, link or device over a directory on a wanted path
		// replaces the directory and what it held.
		for p := range found {
			if p != name && within(p, name) {
				delete(found, p)
			}
		}
	}
	if !wanted[name] {
		return nil
	}
	f := &imageFile{layer: i, hdr: hdr}
	found[name] = f
	switch hdr.Typeflag {
	case tar.TypeReg:
		if hdr.Size > maxSize {
			return fmt.Errorf("%w: %d bytes, over the limit of %d", ErrTooLarge, hdr.Size, maxSize)
		}
		f.data, err = io.ReadAll(io.LimitReader(r, hdr.Size))
		return err
	case tar.TypeLink:
		target, err := cleanName(hdr.Linkname)
		if err != nil {
			return err
		}
		if t := found[target]; t != nil && t.err == nil && t.data != nil {
			f.data = t.data
			return nil
		}
		f.err = fmt.Errorf("%w: a hard link to %s, which is not among the files to sign", ErrNotSignable, "/"+target)
	default:
		f.err = fmt.Errorf("%w: tar entry type %q", ErrNotSignable, hdr.Typeflag)
	}
	return nil
}

// newLayer is the layer of signed files and its media type.
type newLayer struct {
	layer     v1.Layer
	mediaType types.MediaType
}

// signedLayer signs the files found (KMM's COPY of each file from the
// signing stage) and returns one layer holding them, in the order of
// files, with a media type of the image's kind (manifestType).
func signedLayer(found map[string]*imageFile, files []string, signer *sign.Signer, manifestType types.MediaType, maxSize int64) (newLayer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		e := found[f[1:]]
		signed, _, err := signer.SignFile(e.data, sign.Options{MaxSize: maxSize, Zstd: signzstd.Compress})
		if err != nil {
			return newLayer{}, fmt.Errorf("signing %s: %w", f, err)
		}
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     f[1:],
			Mode:     e.hdr.Mode,
			Uid:      e.hdr.Uid,
			Gid:      e.hdr.Gid,
			Uname:    e.hdr.Uname,
			Gname:    e.hdr.Gname,
			ModTime:  e.hdr.ModTime,
			Size:     int64(len(signed)),
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return newLayer{}, err
		}
		if _, err := tw.Write(signed); err != nil {
			return newLayer{}, err
		}
	}
	if err := tw.Close(); err != nil {
		return newLayer{}, err
	}
	mt := types.OCILayer
	if manifestType == types.DockerManifestSchema2 {
		mt = types.DockerLayer
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(mt), tarball.WithCompressedCaching)
	if err != nil {
		return newLayer{}, err
	}
	return newLayer{layer: l, mediaType: mt}, nil
}
