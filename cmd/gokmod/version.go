package main

import (
	"fmt"
	"io"

	"github.com/gokmod/modprobe"
)

// kmodRelease is the kmod release gokmod presents itself as in -V, which
// scripts parse: the one its compatibility mode follows.
func kmodRelease(c modprobe.Compat) string {
	if c == modprobe.CompatKmod30 {
		return "30"
	}
	return "34.2"
}

// features is the second line of -V: what this gokmod does, in the words
// and order of the kmod release it follows, as a kmod built with every
// feature prints them. gokmod reads zstd, xz and gzip modules itself
// (depmod, modinfo and loading alike) and decodes module signatures for
// modinfo, which kmod 30 calls LIBCRYPTO and kmod 34 OPENSSL; it has none
// of kmod 30's experimental tools.
func features(c modprobe.Compat) string {
	if c == modprobe.CompatKmod30 {
		return "+ZSTD +XZ +ZLIB +LIBCRYPTO -EXPERIMENTAL"
	}
	return "+ZSTD +XZ +ZLIB +OPENSSL"
}

// versionText is what kmod's tools print for -V in compatibility mode c.
func versionText(c modprobe.Compat) string {
	return fmt.Sprintf("kmod version %s\n%s\n", kmodRelease(c), features(c))
}

// printVersion prints -V for the compatibility mode GOKMOD_COMPAT
// selects, or reports on log that it selects none.
func printVersion(out io.Writer, e *env, log *toolLog) int {
	c, err := compatFromEnv(e)
	if err != nil {
		log.printf(logErr, "%v\n", err)
		return 1
	}
	io.WriteString(out, versionText(c))
	return 0
}
