package kmodimage

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
)

// KernelMapping is one entry of a Module's kernelMappings, with KMM's
// field names: the image (and in-tree modules to remove) for kernels
// equal to Literal or matching Regexp.
type KernelMapping struct {
	// Literal matches a kernel version equal to it.
	Literal string `json:"literal,omitempty"`
	// Regexp matches kernel versions it matches anywhere (RE2, not
	// anchored: use ^ and $ for a whole match).
	Regexp string `json:"regexp,omitempty"`
	// ContainerImage overrides the Module's image; it may hold KMM's
	// variables.
	ContainerImage string `json:"containerImage,omitempty"`
	// InTreeModulesToRemove overrides the Module's list.
	InTreeModulesToRemove []string `json:"inTreeModulesToRemove,omitempty"`
	// InTreeModuleToRemove is the deprecated single-module form.
	InTreeModuleToRemove string `json:"inTreeModuleToRemove,omitempty"`
}

// ErrNoMapping: no kernel mapping matches the node's kernel. For KMM
// this means the node is not targeted, not a failure.
var ErrNoMapping = errors.New("no kernel mapping matches")

// FindMapping returns the index of the first mapping that matches kernel,
// in order: a Literal equal to it, or else a Regexp that matches it
// anywhere. A Regexp that does not compile is an error naming the
// mapping; no match is an error wrapping ErrNoMapping.
func FindMapping(mappings []KernelMapping, kernel string) (int, error) {
	for i, m := range mappings {
		if m.Literal != "" && m.Literal == kernel {
			return i, nil
		}
		if m.Regexp == "" {
			continue
		}
		re, err := regexp.Compile(m.Regexp)
		if err != nil {
			return -1, fmt.Errorf("kmodimage: kernelMappings[%d].regexp %q: %w", i, m.Regexp, err)
		}
		if re.MatchString(kernel) {
			return i, nil
		}
	}
	return -1, fmt.Errorf("kmodimage: kernel %q: %w", kernel, ErrNoMapping)
}

// Target is what a kernel mapping is resolved for: a node's kernel and
// the Module.
type Target struct {
	// Release is the node's kernel release (its uname -r).
	Release string
	// KeepPlus keeps a trailing "+" of Release, which KMM trims before
	// matching (see NodeKernel).
	KeepPlus bool
	// ModName and ModNamespace are the Module's name and namespace, for
	// $MOD_NAME and $MOD_NAMESPACE in the image.
	ModName, ModNamespace string
}

// Resolved is a Module's kernel mapping resolved for one node.
type Resolved struct {
	// Mapping is the index of the mapping used.
	Mapping int
	// KernelVersion is the version matched (Release, "+" trimmed unless
	// KeepPlus).
	KernelVersion string
	// ContainerImage is the image with KMM's variables substituted.
	ContainerImage string
	// InTreeModulesToRemove is the in-tree list that applies.
	InTreeModulesToRemove []string
}

// Resolve does for one node what KMM's operator does before it starts a
// worker: it finds the first mapping for the node's kernel (FindMapping),
// takes the mapping's image and in-tree list over the Module's (given in
// module, whose Literal and Regexp are ignored), turns the deprecated
// single in-tree module into a list, and substitutes the variables in the
// image: the KERNEL_* ones of the normalised version, MOD_NAME and
// MOD_NAMESPACE.
func Resolve(mappings []KernelMapping, module KernelMapping, t Target) (Resolved, error) {
	kernel := NodeKernel(t.Release, t.KeepPlus)
	i, err := FindMapping(mappings, kernel)
	if err != nil {
		return Resolved{}, err
	}
	m := mappings[i]
	image := module.ContainerImage
	if m.ContainerImage != "" {
		image = m.ContainerImage
	}
	if image == "" {
		return Resolved{}, fmt.Errorf("kmodimage: kernelMappings[%d]: no containerImage, in the mapping or the Module", i)
	}
	inTree := module.InTreeModulesToRemove
	if m.InTreeModulesToRemove != nil {
		inTree = m.InTreeModulesToRemove
	}
	single := module.InTreeModuleToRemove
	if m.InTreeModuleToRemove != "" {
		single = m.InTreeModuleToRemove
	}
	if single != "" {
		inTree = []string{single}
	}
	vars, err := KernelVars(kernel)
	if err != nil {
		return Resolved{}, err
	}
	vars = append(vars, VarModName+"="+t.ModName, VarModNamespace+"="+t.ModNamespace)
	image, err = Substitute(image, vars)
	if err != nil {
		return Resolved{}, err
	}
	return Resolved{Mapping: i, KernelVersion: kernel, ContainerImage: image, InTreeModulesToRemove: slices.Clone(inTree)}, nil
}
