package kata

import (
	"context"

	"github.com/gokmod/modprobe"
)

// Load loads the requests in order, as Kata's agent does at
// CreateSandbox: each as modprobe NAME PARAMS would (dependencies first,
// modprobe.d options before the given parameters), stopping at the first
// failure, whose error it returns (a *modprobe.ModuleError naming the
// module). Modules loaded before the failure stay loaded. A module already
// loaded or built in is success.
func Load(ctx context.Context, l *modprobe.Loader, reqs []modprobe.Request, opts modprobe.LoadOptions) error {
	for _, r := range reqs {
		if err := l.LoadWith(ctx, r.Name, r.Params, opts); err != nil {
			return err
		}
	}
	return nil
}
