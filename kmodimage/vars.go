package kmodimage

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/a8m/envsubst/parse"
)

// NodeKernel returns the kernel version KMM matches kernel mappings
// against: the node's release with one trailing "+" trimmed (kernels
// built from a git tree with local changes, such as GKE's COS, end in
// "+"). With keepPlus the release is used as it is, which is what
// modprobe itself needs: the module directory is named after the full
// release.
func NodeKernel(release string, keepPlus bool) string {
	if keepPlus {
		return release
	}
	return strings.TrimSuffix(release, "+")
}

// NormalizeVersion returns v with every character outside [A-Za-z0-9._-]
// replaced by "_", as KMM normalises a kernel version before putting it in
// image references and labels.
func NormalizeVersion(v string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, v)
}

// ErrBadVersion: a kernel version has fewer than three components.
var ErrBadVersion = errors.New("kernel version without major, minor and patch components")

// The variables KMM substitutes.
const (
	VarKernelFullVersion = "KERNEL_FULL_VERSION"
	VarKernelVersion     = "KERNEL_VERSION"
	VarKernelXYZ         = "KERNEL_XYZ"
	VarKernelX           = "KERNEL_X"
	VarKernelY           = "KERNEL_Y"
	VarKernelZ           = "KERNEL_Z"
	VarModName           = "MOD_NAME"
	VarModNamespace      = "MOD_NAMESPACE"
)

// versionSeparators split a kernel version into KERNEL_X, _Y and _Z.
var versionSeparators = regexp.MustCompile("[.,-]")

// KernelVars returns KMM's kernel variables for kernel, as "NAME=VALUE":
// KERNEL_FULL_VERSION and KERNEL_VERSION (the normalised version), and
// KERNEL_XYZ, KERNEL_X, KERNEL_Y and KERNEL_Z from its first three
// components, split at ".", "," and "-". A version with fewer than three
// components is an error wrapping ErrBadVersion (KMM's operator crashes
// on it).
func KernelVars(kernel string) ([]string, error) {
	v := NormalizeVersion(kernel)
	parts := versionSeparators.Split(v, -1)
	if len(parts) < 3 {
		return nil, fmt.Errorf("kmodimage: %q: %w", kernel, ErrBadVersion)
	}
	return []string{
		VarKernelFullVersion + "=" + v,
		VarKernelVersion + "=" + v,
		VarKernelXYZ + "=" + strings.Join(parts[:3], "."),
		VarKernelX + "=" + parts[0],
		VarKernelY + "=" + parts[1],
		VarKernelZ + "=" + parts[2],
	}, nil
}

// Substitute expands the variables in s from vars ("NAME=VALUE"), with
// the syntax and rules of KMM's substitution (the envsubst library KMM
// uses, unrestricted): $VAR, ${VAR} and ${VAR:-default} (and envsubst's
// other forms); an unset variable expands to "". A malformed reference is
// an error naming s.
func Substitute(s string, vars []string) (string, error) {
	out, err := parse.New("kmodimage", vars, &parse.Restrictions{}).Parse(s)
	if err != nil {
		return "", fmt.Errorf("kmodimage: substituting in %q: %w", s, err)
	}
	return out, nil
}
