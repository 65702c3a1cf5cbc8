package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImportGraphLeavesWorkerOut: gokmod, which is modprobe, links none
// of what only the worker (cmd/worker) needs: an HTTP client, TLS, X.509
// and module signing (gokmod sign hands over to the worker), YAML,
// an image library, klauspost/compress (which the image layers use; its
// package inits, crc32 tables and CPUID probes, cost every process some
// 0.4 ms: internal/modfile has its own zstd decoder and uses
// compress/gzip). Each would add its package inits to every modprobe's
// start-up.
func TestImportGraphLeavesWorkerOut(t *testing.T) {
	banned := []string{"net/http", "crypto/tls", "crypto/x509", "github.com/gokmod/modprobe/sign", "sigs.k8s.io/yaml", "go.yaml.in/yaml/", "gopkg.in/yaml", "github.com/google/go-containerregistry/", "github.com/gokmod/modprobe/kmodimage", "github.com/klauspost/compress"}
	bannedIn := func(deps []string) []string {
		var found []string
		for _, d := range deps {
			if slices.ContainsFunc(banned, func(b string) bool { return strings.HasPrefix(d, b) }) {
				found = append(found, d)
			}
		}
		return found
	}
	gokmod := goListDeps(t, ".")
	if !slices.Contains(gokmod, "github.com/gokmod/modprobe") {
		t.Fatalf("go list -deps listed %d packages, not gokmod's graph: %q", len(gokmod), gokmod)
	}
	if found := bannedIn(gokmod); len(found) != 0 {
		t.Errorf("cmd/gokmod depends on %q", found)
	}
	// The check finds them where they are: in the worker.
	if found := bannedIn(goListDeps(t, "../worker")); !slices.Contains(found, "github.com/gokmod/modprobe/kmodimage") || !slices.Contains(found, "net/http") || !slices.Contains(found, "github.com/klauspost/compress/zstd") {
		t.Errorf("cmd/worker's banned dependencies %q lack kmodimage, net/http or klauspost's zstd", found)
	}
}

// goListDeps is go list -deps pkg.
func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestImportGraphStartsLean: gokmod links no package of the standard
// library's cryptography (crypto/sha256, for xz's SHA-256 check, brought in
// 26 packages: AES-GCM, a DRBG, SHA-3, HMAC, FIPS self-test
// registration, ~0.05 ms of package inits and a 32 MiB DRBG buffer in
// every process; internal/modfile computes that check itself).
func TestImportGraphStartsLean(t *testing.T) {
	gokmod := goListDeps(t, ".")
	require.Contains(t, gokmod, "github.com/gokmod/modprobe/internal/modfile", "go list -deps gave no graph of gokmod")
	var found []string
	for _, d := range gokmod {
		if d == "crypto" || strings.HasPrefix(d, "crypto/") {
			found = append(found, d)
		}
	}
	assert.Empty(t, found, "cmd/gokmod depends on the standard library's cryptography")
	// Nor debug/elf (for a dozen constants it brought debug/dwarf,
	// compress/zlib and their package inits: ~25 page faults more at
	// every start; internal/elfmod spells the numbers it reads).
	assert.NotContains(t, gokmod, "debug/elf")
	assert.NotContains(t, gokmod, "debug/dwarf")
	// Nor regexp (depmod.d's kernel patterns, which internal/ere
	// matches): its syntax package's tables and the unicode maps they
	// reach were built at every start.
	assert.NotContains(t, gokmod, "regexp")
	assert.NotContains(t, gokmod, "regexp/syntax")
	// The check sees them where they are: the worker signs modules.
	assert.Contains(t, goListDeps(t, "../worker"), "crypto/sha256")
}
