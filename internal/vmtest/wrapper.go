package vmtest

import (
	"fmt"
	"os"
	"strings"
)

// WrapperRoot returns the root directory of the system whose kmod the
// wrapper script runs: scripts/setup.sh writes wrappers (the tools
// testmod.Kmod34Tool returns) that name it on a "d=ROOT" line.
func WrapperRoot(wrapper string) (string, error) {
	// Not an input: a script the test setup wrote.
	data, err := os.ReadFile(wrapper)
	if err != nil {
		return "", fmt.Errorf("vmtest: %w", err)
	}
	for line := range strings.Lines(string(data)) {
		if root, ok := strings.CutPrefix(strings.TrimSpace(line), "d="); ok && root != "" {
			return root, nil
		}
	}
	return "", fmt.Errorf("vmtest: %s names no root (a \"d=ROOT\" line)", wrapper)
}
