// Package registrytest helps tests that pull kmod images: Start runs a real
// registry (Debian's docker-registry, the CNCF distribution registry) on
// the loopback interface, Push stores an image in it, and Image builds an
// image from tar entries, including the malformed and hostile ones an
// extractor must refuse.
package registrytest
