//go:build vmguest

package guest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/kernel"
	"github.com/gokmod/modprobe/internal/modfile"
	"github.com/gokmod/modprobe/internal/vmtest"
	"github.com/gokmod/modprobe/sign"
)

// The module-signing proofs (issue 17): modules signed by gokmod and by
// the kernel's sign-file with keys the kernel does not trust, loaded on a
// kernel that does not enforce signatures. They taint the kernel
// ('E'), so the file sorts after compressed_test.go, whose
// TestSignedModulesUntainted must run on an untainted kernel; in the whole
// suite, unsigned modules loaded before have already drawn the kernel's
// once-only "module verification failed" notice, which
// TestModuleSignatures then expects no more (run alone, it expects it
// once).

// signMod is the module the host signed (vm_test.go signFiles): a leaf
// no other guest test loads.
const signMod = "ifb"

// signLoad is what the kernel made of one module file.
type signLoad struct {
	err       error  // the insertion's error, nil if it loaded
	tainted   uint64 // the kernel's taint flags after it
	modTaint  string // /sys/module/M/taint while loaded
	noticeLog int    // "module verification failed" lines it logged
}

// insertFile inserts the module file path as a loader does on this
// kernel: Debian 13's kernel decompresses a .ko.xz itself
// (finit_module with MODULE_INIT_COMPRESSED_FILE); on Debian 12 it is
// decompressed here and given to init_module.
func insertFile(t *testing.T, path string) error {
	t.Helper()
	if strings.HasSuffix(path, ".ko.xz") && treeSuffix(t) != ".ko.xz" {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		image, err := modfile.DecompressBytes(data, 64<<20)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return kernel.InitModule(image, "")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags := 0
	if strings.HasSuffix(path, ".ko.xz") {
		flags = int(modprobe.InitCompressedFile)
	}
	return kernel.FinitModule(f, "", flags)
}

// loadSigned inserts the host's file name (below TestdataDir/sign),
// records what the kernel did, and removes the module again.
func loadSigned(t *testing.T, name string) signLoad {
	t.Helper()
	log := openKmsg(t)
	defer log.Close()
	var r signLoad
	r.err = insertFile(t, vmtest.TestdataDir+"/sign/"+name)
	r.tainted = tainted(t)
	if r.err == nil {
		r.modTaint = strings.TrimSpace(readFile(t, "/sys/module/"+signMod+"/taint"))
		if err := kernel.DeleteModule(signMod, 0); err != nil {
			t.Fatalf("removing %s (%s): %v", signMod, name, err)
		}
	}
	r.noticeLog = countLines(log.lines(t), "module verification failed")
	return r
}

// TestModuleSignatures loads ifb signed by gokmod and by sign-file
// (RSA 2048 with sha256, ECDSA P-384 with sha384), plain and as .ko.xz,
// each with a key the kernel does not trust: both load and taint the
// kernel and the module alike (TAINT_UNSIGNED_MODULE, 'E'); the kernel
// logs its once-only "module verification failed" notice at the first
// (when no unsigned module came before). With the PKCS#7 message made
// malformed (trailer intact), both are refused with the same errno,
// EBADMSG (the kernel's ASN.1 decoder; it refuses malformed signatures
// even when it does not enforce them), and the kernel is unchanged.
func TestModuleSignatures(t *testing.T) {
	freshKernel(t)
	noticeDue := tainted(t)&taintUnsignedModule == 0
	if !noticeDue {
		t.Log("an unsigned module was loaded before: the kernel will not log its once-only notice")
	}
	notices := 0
	for _, kind := range []string{"rsa2048", "p384"} {
		for _, suffix := range []string{".ko", ".ko.xz"} {
			ours, theirs := loadSigned(t, kind+"/gokmod"+suffix), loadSigned(t, kind+"/signfile"+suffix)
			what := kind + " " + suffix
			notices += ours.noticeLog + theirs.noticeLog
			if ours.err != nil || theirs.err != nil {
				t.Errorf("%s: gokmod's: %v, sign-file's: %v; want both loaded", what, ours.err, theirs.err)
			}
			if ours.tainted != theirs.tainted || ours.modTaint != theirs.modTaint {
				t.Errorf("%s: gokmod's: kernel taint %d, module %q; sign-file's: %d, %q", what, ours.tainted, ours.modTaint, theirs.tainted, theirs.modTaint)
			}
			if ours.modTaint != "E" || ours.tainted&taintUnsignedModule == 0 {
				t.Errorf("%s: module taint %q, kernel taint %d: want 'E' (a key the kernel does not trust)", what, ours.modTaint, ours.tainted)
			}
			t.Logf("%s: both loaded, kernel taint %d, module taint %q", what, ours.tainted, ours.modTaint)

			before := tainted(t)
			ours, theirs = loadSigned(t, kind+"/gokmod-corrupt"+suffix), loadSigned(t, kind+"/signfile-corrupt"+suffix)
			if !errors.Is(ours.err, syscall.EBADMSG) || !errors.Is(theirs.err, syscall.EBADMSG) {
				t.Errorf("%s corrupted: gokmod's: %v, sign-file's: %v; want both refused with EBADMSG", what, ours.err, theirs.err)
			}
			if ours.tainted != before || theirs.tainted != before || live(t, signMod) {
				t.Errorf("%s corrupted: the refusal changed the kernel (taint %d -> %d, %d)", what, before, ours.tainted, theirs.tainted)
			}
			t.Logf("%s corrupted: gokmod's refused with %v, sign-file's with %v", what, ours.err, theirs.err)
		}
	}
	if want := map[bool]int{true: 1, false: 0}[noticeDue]; notices != want {
		t.Errorf("the kernel logged \"module verification failed\" %d times, want %d", notices, want)
	}
}

// TestKMMWorkerSigned runs gokmod's KMM worker on the image that
// kmodimage.SignImage (gokmod kmm sign) signed in a registry on the host
// (vm_test.go kmmSignedFiles): Debian's dummy, nls_utf8 and nls_cp437
// with their signatures removed, then signed with a key the kernel does
// not trust (.ko.xz on Debian 13, which its kernel decompresses). The
// files the worker loads verify with that key's certificate, and the
// kernel takes every one, tainted 'E' as such a key makes it.
func TestKMMWorkerSigned(t *testing.T) {
	freshKernel(t)
	const dir = vmtest.TestdataDir + "/kmm-signed"
	certs, err := sign.ParseCertificates([]byte(readFile(t, dir+"/cert.pem")))
	if err != nil {
		t.Fatal(err)
	}
	modDir := dir + "/shared/opt/lib/modules/" + release(t)
	signed := map[string]string{}
	for line := range strings.Lines(readFile(t, modDir+"/modules.dep")) {
		if p, _, ok := strings.Cut(line, ":"); ok {
			signed[baseName(p)] = filepath.Join(modDir, p)
		}
	}
	for m, p := range signed {
		if _, err := sign.Verify([]byte(readFile(t, p)), certs); err != nil {
			t.Errorf("%s (%s) of the signed image: %v", m, p, err)
		}
	}
	out := run(t, "/bin/gokmod", "kmm", "load", dir+"/config.yaml", "--shared-dir", dir+"/shared")
	t.Logf("kmm load:\n%s", out)
	for _, m := range []string{"dummy", "nls_utf8", "nls_cp437"} {
		if !strings.Contains(out, "insmod "+signed[m]) {
			t.Errorf("kmm load did not load %s from the signed image's %s", m, signed[m])
		}
		if !live(t, m) {
			t.Errorf("%s not live", m)
			continue
		}
		if taint := strings.TrimSpace(readFile(t, "/sys/module/"+m+"/taint")); taint != "E" {
			t.Errorf("%s: module taint %q, want 'E' (signed with a key the kernel does not trust)", m, taint)
		}
	}
	run(t, "/bin/worker", "kmod", "unload", dir+"/config.yaml", "--shared-dir", dir+"/shared")
	for _, m := range []string{"dummy", "nls_utf8", "nls_cp437"} {
		if live(t, m) {
			t.Errorf("%s still live after unload", m)
		}
	}
}
