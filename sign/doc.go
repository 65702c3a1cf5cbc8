// Package sign signs and verifies Linux kernel modules in pure Go, as the
// kernel tree's scripts/sign-file signs them and as the kernel checks them
// when it loads a module.
//
// A signed module is the module's bytes, a DER CMS (PKCS#7) SignedData
// over them, the kernel's struct module_signature (id_type PKCS#7, the
// signature's length big-endian) and the magic "~Module signature
// appended~\n". The SignedData is the one sign-file makes: no signed
// attributes, no certificates, detached content, the signer named by
// issuer and serial number (or by subject key identifier, sign-file's
// -k). RSA signatures (PKCS#1 v1.5) are deterministic, so a module signed
// here is byte-identical to sign-file's; ECDSA signatures are not.
//
// Like sign-file, signing a module that is already signed appends a
// second signature: the kernel reads only the last one, which covers the
// module with the first.
package sign
