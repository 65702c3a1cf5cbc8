package consumer

import (
	"context"
	"strings"

	"github.com/gokmod/modprobe"
)

// LoadHookModules loads the comma-separated KERNEL_MODULES of a
// container's environment all at once, eight at a time, as an OCI
// prestart hook would, and returns one error per module that failed.
func LoadHookModules(ctx context.Context, l *modprobe.Loader, env []string, show func(modprobe.Action)) []*modprobe.ModuleError {
	var names []string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "KERNEL_MODULES="); ok {
			for n := range strings.SplitSeq(v, ",") {
				if n = strings.TrimSpace(n); n != "" {
					names = append(names, n)
				}
			}
		}
	}
	err := l.LoadAllWith(ctx, names, modprobe.LoadOptions{Jobs: 8, Show: show})
	return modprobe.Failures(err)
}
