// Package kmodimage is Kernel Module Management's side of gokmod: the
// kernel mappings and variables of a Module, the worker's configuration,
// kmod images (pulled from a registry or opened from an OCI layout or a
// tarball, and extracted safely), and the worker's load and unload.
//
// KMM runs a worker on each node that, for a Module, removes in-tree
// modules the out-of-tree ones replace, copies firmware, and loads the
// module from the kmod image's /opt/lib/modules/KERNEL (softdeps from
// modulesLoadingOrder, parameters, extra modprobe arguments), and later
// unloads it. Load and Unload do the same with gokmod's Loader instead of
// an exec'd modprobe, keeping KMM's semantics (see their docs), and
// Extract takes the place of the init container that copies the image's
// files; Worker.PullAndLoad does both in one call. SignImage is KMM's sign
// build (a Module's sign section: unsignedImage, keySecret, certSecret,
// filesToSign) without kernel-devel or a build pod: it signs the files
// inside the unsigned image with package sign and pushes the image with
// one more layer holding the signed files at their paths, as KMM's
// signing Dockerfile's COPY of each file over the unsigned image does. A registry's TLS
// certificate is checked against the system's authorities, or the CA
// bundles of PullOptions.RootCAs (LoadCABundle), unless KMM's
// registryTLS or insecurePull says otherwise.
//
// # Integrity
//
// Nothing extracted from an image is indexed, moved into place, cached
// or loaded before the image has been checked against its digests:
// OpenImage checks every manifest and index on the way to the image
// against the reference's digest or the index entry's; Extract checks
// the config against the manifest, each layer's blob, read to its last
// byte and never past its size plus one, against the manifest's digest
// and size, and the layer's tar archive against the config's diff_id.
// A mismatch wraps ErrDigestMismatch. A reference by tag leaves the
// choice of the manifest to the registry; one pinned by digest does not.
//
// A pull is bounded too: 10 redirects, PullOptions.StallTimeout for any
// wait on the registry, PullOptions.Timeout for the whole pull,
// MaxManifestSize for manifests, indexes and configs, and the context
// throughout.
package kmodimage
