// Package isula reads iSulad's KERNEL_MODULES and loads the modules it
// names, as the syscontainer-hooks prestart hook does, without its holes.
//
// A system container asks for host modules through its environment:
//
//	isula run -e KERNEL_MODULES=ip_vs,ip_vs_wrr ...
//
// The prestart hook reads the container's process.env from the bundle's
// config.json and loads the names as modprobe -a does: every name is
// tried, without parameters, and the hook fails if any failed.
//
// # The grammar
//
// ParseEnv keeps iSulad's grammar: the first entry whose key is exactly
// KERNEL_MODULES wins; its value is cut at a second "=" (iSulad splits
// the whole entry on "=", so KERNEL_MODULES=a,b=c loads a and b; the
// dropped text is reported so the caller can warn); the value is split on
// ","; empty items are skipped; nothing is trimmed ("a, b" is an error on
// " b"). A name must match ^[A-Za-z0-9_-]+$.
//
// One change, for security: a name may not start with "-". iSulad's
// regular expression lets KERNEL_MODULES=-r,ip_vs through, and its
// modprobe -a -r ip_vs then removes a host module; the container's user,
// or the image's author, chooses this variable. Such names are errors
// wrapping modprobe.ErrBadName.
//
// # The hook
//
// ParseState reads the state the OCI runtime gives a hook on its
// standard input, and ParseSpecEnv the bundle's config.json; gokmod
// oci-hook puts them together. Unlike iSulad's hook, which exits 0
// without loading anything when either is malformed, they return errors.
// In an iSulad hook spec (or a bundle's hooks), the hook is:
//
//	{"prestart": [{"path": "/usr/bin/gokmod", "args": ["gokmod", "oci-hook"]}]}
//
// It also takes iSulad's "--state STAGE" arguments and loads at prestart
// only.
package isula
