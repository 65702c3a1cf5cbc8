package consumer_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRootOnlyImportGraph: a program that imports only gokmod's root
// package (this one does) links no HTTP client, TLS, TOML or YAML parser,
// image library or test framework: each would add its package inits to
// every start of a Kata agent or a hook. docs/benchmarks.md gives the
// figures (packages, size, init time) next to u-root's and pmorjan/kmod's.
func TestRootOnlyImportGraph(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err, "go list -deps")
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/gokmod/modprobe", "go list -deps listed the consumer's graph")
	banned := []string{"net/http", "crypto/tls", "github.com/BurntSushi/toml", "github.com/pelletier/go-toml", "sigs.k8s.io/yaml", "go.yaml.in/yaml", "gopkg.in/yaml", "github.com/google/go-containerregistry", "github.com/gokmod/modprobe/kmodimage", "github.com/gokmod/modprobe/kata", "testing"}
	var found []string
	for _, d := range deps {
		if slices.ContainsFunc(banned, func(b string) bool { return d == b || strings.HasPrefix(d, b+"/") }) {
			found = append(found, d)
		}
	}
	require.Empty(t, found, "a root-only program depends on them")
}
