package kmodimage

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PullOptions adjust how an image is fetched from a registry.
type PullOptions struct {
	// Insecure allows plain HTTP and unverified TLS (KMM's insecurePull,
	// and registryTLS.insecure).
	Insecure bool
	// InsecureSkipTLSVerify accepts any certificate the registry presents,
	// over HTTPS only (KMM's registryTLS.insecureSkipTLSVerify).
	InsecureSkipTLSVerify bool
	// RootCAs, if set, are the certificate authorities a registry's
	// certificate must chain to, in place of the system's (see
	// LoadCABundle). A certificate that does not verify fails the pull
	// with an error wrapping ErrUntrustedRegistry.
	RootCAs *x509.CertPool
	// Keychain resolves registry credentials; nil means authn.DefaultKeychain.
	Keychain authn.Keychain
	// Platform selects the image of a multi-platform index; nil means linux and runtime.GOARCH.
	Platform *v1.Platform
	// Timeout bounds the whole pull, from OpenImage's call to the last
	// read of the image's layers by Extract: a request to the registry
	// after it fails with an error wrapping context.DeadlineExceeded.
	// Zero means DefaultPullTimeout.
	Timeout time.Duration
	// StallTimeout bounds every wait on the registry: connecting, the TLS
	// handshake, a response's header, and each pause in a body. A
	// registry that stays silent longer fails the request with an error
	// wrapping ErrStalled. Zero means DefaultStallTimeout.
	StallTimeout time.Duration
}

// The prefixes of OpenImage's references that do not name a registry.
const (
	ociPrefix     = "oci:"
	tarballPrefix = "tarball:"
)

// refNameAnnotation is the annotation of an OCI layout's index entry that
// holds the entry's tag.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// ociTag matches the tag that may end an "oci:DIR:TAG" reference.
var ociTag = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// maxIndexDepth bounds the indexes nested on the way to an image.
const maxIndexDepth = 8

// pullRetry returns how a request that failed on the network or with a
// status such as 503 is retried: three tries, 250 ms and 750 ms apart
// (go-containerregistry waits 1 s and 3 s, without looking at the
// context), so that cancelling a pull takes effect within a second.
func pullRetry() remote.Backoff {
	return remote.Backoff{Duration: 250 * time.Millisecond, Factor: 3, Jitter: 0.1, Steps: 3}
}

// OpenImage returns the image ref names. The reference is one of:
//
//   - "oci:DIR", "oci:DIR:TAG" or "oci:DIR@sha256:HEX": the OCI image layout
//     directory DIR. Without a tag or digest its index must hold exactly one
//     manifest; a tag picks the manifest annotated
//     org.opencontainers.image.ref.name=TAG, a digest the manifest with that
//     digest. A manifest that is itself an index is resolved by the
//     platform.
//   - "tarball:PATH": a tarball as `docker save` writes it, holding exactly
//     one image.
//   - anything else: a registry reference such as
//     "quay.io/org/kmod:6.1.0-13-amd64" or "host:5000/repo@sha256:HEX",
//     pulled over HTTPS (or plain HTTP when opts.Insecure is set). The
//     manifest is fetched before OpenImage returns; the layers are fetched
//     when they are read, still bounded by ctx and by opts' timeouts.
//
// Every manifest and index on the way to the image is read up to
// MaxManifestSize and checked against its digest: the reference's when it
// names one, else that of the index entry leading to it. A mismatch fails
// with an error wrapping ErrDigestMismatch. Extract then checks the config
// and the layers against the manifest. Errors name the reference.
func OpenImage(ctx context.Context, ref string, opts PullOptions) (v1.Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open image %q: %w", ref, err)
	}
	platform := opts.platform()
	var (
		img v1.Image
		err error
	)
	switch {
	case strings.HasPrefix(ref, ociPrefix):
		img, err = openLayout(strings.TrimPrefix(ref, ociPrefix), platform)
	case strings.HasPrefix(ref, tarballPrefix):
		img, err = openTarball(strings.TrimPrefix(ref, tarballPrefix))
	default:
		img, err = openRemote(ctx, ref, opts, platform)
	}
	if err != nil {
		return nil, fmt.Errorf("open image %q: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("open image %q: %w", ref, err)
	}
	return &openedImage{Image: img, ref: ref, digest: d}, nil
}

// platform returns the platform opts select.
func (opts PullOptions) platform() v1.Platform {
	if opts.Platform != nil {
		return *opts.Platform
	}
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// openRemote pulls ref's manifest, through indexes, from its registry.
func openRemote(ctx context.Context, ref string, opts PullOptions, platform v1.Platform) (v1.Image, error) {
	var nameOpts []name.Option
	if opts.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nameOpts...)
	if err != nil {
		return nil, err
	}
	keychain := opts.Keychain
	if keychain == nil {
		keychain = authn.DefaultKeychain
	}
	t := newPullTransport(opts)
	remoteOpts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(keychain),
		remote.WithTransport(t),
		remote.WithRetryBackoff(pullRetry()),
	}
	// One puller for the manifest and the indexes above it: one
	// connection setup and authentication.
	puller, err := remote.NewPuller(remoteOpts...)
	if err != nil {
		return nil, err
	}
	top, err := puller.Get(ctx, r)
	if err != nil {
		return nil, err
	}
	want := v1.Descriptor{MediaType: manifestType(top.MediaType, top.Manifest), Size: -1}
	if d, ok := r.(name.Digest); ok {
		if want.Digest, err = v1.NewHash(d.DigestStr()); err != nil {
			return nil, err
		}
	}
	if err := checkBytes(top.Manifest, "manifest", want.Digest, want.Size); err != nil {
		return nil, err
	}
	last := top
	fetch := func(d v1.Descriptor) ([]byte, error) {
		child, err := puller.Get(ctx, r.Context().Digest(d.Digest.String()))
		if err != nil {
			return nil, err
		}
		if err := checkBytes(child.Manifest, "manifest", d.Digest, d.Size); err != nil {
			return nil, err
		}
		last = child
		return child.Manifest, nil
	}
	desc, raw, err := resolveManifest(want, top.Manifest, platform, fetch)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	t.expectBlobs(m)
	// The media type resolveManifest went by, not the registry's
	// Content-Type, says what the manifest is.
	last.MediaType = desc.MediaType
	return last.Image()
}

// manifestType returns the media type of the manifest raw, which a
// registry served as mt: mt, unless it is missing or generic JSON, and
// then the manifest's own mediaType field, else OCI's index or manifest
// type by the manifest's shape.
func manifestType(mt types.MediaType, raw []byte) types.MediaType {
	if generic := mt == "" || strings.HasPrefix(string(mt), "application/json") || strings.HasPrefix(string(mt), "text/plain"); !generic {
		return mt
	}
	var shape struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
	}
	json.Unmarshal(raw, &shape) // a bad manifest fails when parsed
	switch {
	case shape.MediaType != "":
		return shape.MediaType
	case shape.Manifests != nil:
		return types.OCIImageIndex
	default:
		return types.OCIManifestSchema1
	}
}

// splitLayoutSpec splits "DIR", "DIR:TAG" or "DIR@DIGEST" into its parts.
// A colon starts a tag only if what follows it is a valid tag, so that a
// directory whose name holds a colon can still be named.
func splitLayoutSpec(spec string) (dir, tag string, digest v1.Hash, err error) {
	if i := strings.LastIndex(spec, "@"); i >= 0 {
		digest, err = v1.NewHash(spec[i+1:])
		if err != nil {
			return "", "", v1.Hash{}, fmt.Errorf("bad digest in OCI layout reference: %w", err)
		}
		spec = spec[:i]
	} else if i := strings.LastIndex(spec, ":"); i >= 0 && ociTag.MatchString(spec[i+1:]) {
		spec, tag = spec[:i], spec[i+1:]
	}
	if spec == "" {
		return "", "", v1.Hash{}, fmt.Errorf("no directory after %q", ociPrefix)
	}
	return spec, tag, digest, nil
}

// pickManifest returns the manifest of an OCI layout index that the tag or
// digest selects, or the only one when neither is given.
func pickManifest(manifests []v1.Descriptor, tag string, digest v1.Hash) (v1.Descriptor, error) {
	switch {
	case digest != (v1.Hash{}):
		for _, d := range manifests {
			if d.Digest == digest {
				return d, nil
			}
		}
		return v1.Descriptor{}, fmt.Errorf("no manifest with digest %s in the layout", digest)
	case tag != "":
		var found []v1.Descriptor
		for _, d := range manifests {
			if d.Annotations[refNameAnnotation] == tag {
				found = append(found, d)
			}
		}
		switch len(found) {
		case 1:
			return found[0], nil
		case 0:
			return v1.Descriptor{}, fmt.Errorf("no manifest tagged %q in the layout", tag)
		default:
			return v1.Descriptor{}, fmt.Errorf("%d manifests tagged %q in the layout", len(found), tag)
		}
	default:
		if len(manifests) != 1 {
			return v1.Descriptor{}, fmt.Errorf("the layout has %d manifests; name one by tag or digest", len(manifests))
		}
		return manifests[0], nil
	}
}

// resolveManifest follows the manifest raw, which desc describes and
// which has been checked against it, down nested indexes to the image
// for platform, and returns the image's descriptor and manifest. fetch
// reads the manifest a descriptor names and checks it against the
// descriptor.
func resolveManifest(desc v1.Descriptor, raw []byte, platform v1.Platform, fetch func(v1.Descriptor) ([]byte, error)) (v1.Descriptor, []byte, error) {
	for depth := 0; ; depth++ {
		switch {
		case desc.MediaType.IsImage():
			return desc, raw, nil
		case !desc.MediaType.IsIndex():
			return v1.Descriptor{}, nil, fmt.Errorf("manifest %s has unsupported media type %q", desc.Digest, desc.MediaType)
		case depth == maxIndexDepth:
			return v1.Descriptor{}, nil, fmt.Errorf("manifest %s: indexes nested too deeply", desc.Digest)
		}
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return v1.Descriptor{}, nil, fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		next, err := matchPlatform(idx.Manifests, platform)
		if err == nil {
			err = requireDigest(next.Digest, fmt.Sprintf("the entry for %s", next.Platform))
		}
		if err != nil {
			return v1.Descriptor{}, nil, fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		if raw, err = fetch(next); err != nil {
			return v1.Descriptor{}, nil, err
		}
		desc = next
	}
}

// matchPlatform returns the first manifest whose platform satisfies want.
func matchPlatform(manifests []v1.Descriptor, want v1.Platform) (v1.Descriptor, error) {
	var have []string
	for _, d := range manifests {
		if d.Platform == nil {
			continue
		}
		if d.Platform.Satisfies(want) {
			return d, nil
		}
		have = append(have, d.Platform.String())
	}
	return v1.Descriptor{}, fmt.Errorf("no manifest for platform %s (index has %s)", want.String(), strings.Join(have, ", "))
}
