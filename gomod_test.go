package modprobe_test

import (
	"encoding/json"
	"go/version"
	"os/exec"
	"strings"
	"testing"
)

// oldestGo is the oldest Go release gokmod supports: Go's two newest
// releases are supported, and an importer may be on either.
const oldestGo = "go1.25"

// TestModuleGraphForImporters: what go.mod hands to a program importing
// gokmod asks for no newer Go than the oldest supported release, neither
// itself nor through any module it requires, and carries no tool
// directive (staticcheck lives in tools/go.mod).
func TestModuleGraphForImporters(t *testing.T) {
	out, err := exec.Command("go", "mod", "edit", "-json").Output()
	if err != nil {
		t.Fatalf("go mod edit -json: %v", err)
	}
	var mod struct {
		Go   string
		Tool []struct{ Path string }
	}
	if err := json.Unmarshal(out, &mod); err != nil {
		t.Fatal(err)
	}
	if version.Compare(version.Lang("go"+mod.Go), oldestGo) > 0 {
		t.Errorf("go.mod says go %s; importers on %s could not build it", mod.Go, oldestGo)
	}
	for _, tool := range mod.Tool {
		t.Errorf("go.mod has the tool %s: it reaches every importer's module graph", tool.Path)
	}

	out, err = exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.GoVersion}}", "all").Output()
	if err != nil {
		t.Fatalf("go list -m all: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, goVersion, _ := strings.Cut(line, " ")
		if goVersion != "" && version.Compare(version.Lang("go"+goVersion), oldestGo) > 0 {
			t.Errorf("%s needs go %s, newer than %s", path, goVersion, oldestGo)
		}
	}
}
