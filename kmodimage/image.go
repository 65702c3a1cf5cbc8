package kmodimage

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"regexp"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// PullOptions adjust how an image is fetched from a registry.
type PullOptions struct {
	// Insecure allows plain HTTP and unverified TLS (KMM's insecurePull).
	Insecure bool
	// Keychain resolves registry credentials; nil means authn.DefaultKeychain.
	Keychain authn.Keychain
	// Platform selects the image of a multi-platform index; nil means linux and runtime.GOARCH.
	Platform *v1.Platform
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
//     when they are read, still bounded by ctx.
//
// Errors name the reference.
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
	return img, nil
}

// platform returns the platform opts select.
func (opts PullOptions) platform() v1.Platform {
	if opts.Platform != nil {
		return *opts.Platform
	}
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// openRemote pulls ref's manifest from its registry.
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
	remoteOpts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(keychain),
		remote.WithPlatform(platform),
	}
	if opts.Insecure {
		remoteOpts = append(remoteOpts, remote.WithTransport(insecureTransport()))
	}
	return remote.Image(r, remoteOpts...)
}

// insecureTransport returns a transport like http.DefaultTransport that
// does not verify TLS certificates.
func insecureTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.InsecureSkipVerify = true
	return t
}

// openTarball reads the single image of the tarball at path.
func openTarball(path string) (v1.Image, error) {
	if path == "" {
		return nil, fmt.Errorf("no tarball path after %q", tarballPrefix)
	}
	return tarball.ImageFromPath(path, nil)
}

// openLayout resolves spec ("DIR", "DIR:TAG" or "DIR@DIGEST") in an OCI
// image layout.
func openLayout(spec string, platform v1.Platform) (v1.Image, error) {
	dir, tag, digest, err := splitLayoutSpec(spec)
	if err != nil {
		return nil, err
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	desc, err := pickManifest(m.Manifests, tag, digest)
	if err != nil {
		return nil, err
	}
	return resolveDescriptor(idx, desc, platform)
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

// resolveDescriptor returns the image desc names in idx, choosing by
// platform when desc is an index.
func resolveDescriptor(idx v1.ImageIndex, desc v1.Descriptor, platform v1.Platform) (v1.Image, error) {
	for depth := 0; ; depth++ {
		switch {
		case desc.MediaType.IsImage():
			return idx.Image(desc.Digest)
		case !desc.MediaType.IsIndex():
			return nil, fmt.Errorf("manifest %s has unsupported media type %q", desc.Digest, desc.MediaType)
		case depth == 8:
			return nil, fmt.Errorf("manifest %s: indexes nested too deeply", desc.Digest)
		}
		child, err := idx.ImageIndex(desc.Digest)
		if err != nil {
			return nil, err
		}
		m, err := child.IndexManifest()
		if err != nil {
			return nil, err
		}
		next, err := matchPlatform(m.Manifests, platform)
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		idx, desc = child, next
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
