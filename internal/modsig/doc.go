// Package modsig holds the byte formats of a module signature: the
// trailer the kernel reads at a module's end (struct module_signature and
// its magic) and the CMS SignedData that sign-file puts before it, built
// and parsed in DER without a PKCS#7 library (none produces sign-file's
// exact bytes: no signed attributes, no certificates, detached content).
package modsig
