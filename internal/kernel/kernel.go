// Package kernel is gokmod's only door to the running kernel: it is the one
// package that imports golang.org/x/sys/unix. On systems other than Linux
// every function returns an error wrapping errors.ErrUnsupported.
package kernel
