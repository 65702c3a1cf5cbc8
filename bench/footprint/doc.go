// Package footprint holds three programs that do the same job, loading
// the modules named on their command line, each through one library:
// gokmod's root package (footprint/gokmod), u-root's kmodule
// (footprint/uroot) and pmorjan/kmod (footprint/pmorjan). bench footprint
// builds them and compares what a program pays for importing each: its
// packages, its size and its package initialisation.
package footprint
