package isula

import (
	"context"
	"fmt"

	"github.com/gokmod/modprobe"
)

// Load loads the requests as modprobe -a does, which is what iSulad's hook
// runs: every module is tried, failures do not stop the others, and the
// error joins one *modprobe.ModuleError per failure (nil when all
// succeeded). Modules already loaded or built in are success. With
// opts.Jobs above 1, independent modules load in parallel.
//
// KERNEL_MODULES carries no parameters: a request with parameters is an
// error wrapping modprobe.ErrBadParams, and nothing is loaded.
func Load(ctx context.Context, l *modprobe.Loader, reqs []modprobe.Request, opts modprobe.LoadOptions) error {
	names := make([]string, 0, len(reqs))
	for _, r := range reqs {
		if len(r.Params) > 0 {
			return fmt.Errorf("isula: %s: %w: %s takes no parameters", r.Name, modprobe.ErrBadParams, EnvKey)
		}
		names = append(names, r.Name)
	}
	if len(names) == 0 {
		return nil
	}
	return l.LoadAllWith(ctx, names, opts)
}
