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
// files.
package kmodimage
