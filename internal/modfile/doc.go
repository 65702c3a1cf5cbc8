// Package modfile reads kernel module files: it tells their compression
// from their first bytes as libkmod does (never from the name), decodes
// gzip, xz and zstd within a bound on the output and on the memory held,
// and edits a module image for kmod's forced loads (the vermagic string
// and the modversions section). Package modprobe wraps it: its
// ReadModuleFile, DecompressModule and MapModuleFile call ReadFile,
// DecompressBytes and Map, and its ErrTooLarge is this package's.
package modfile
