package consumer

import (
	"context"
	"fmt"
	"strings"

	"github.com/gokmod/modprobe"
)

// LoadKataModules loads Kata's kernel_modules entries, each "NAME
// [PARAM=VALUE]...", in order, as the agent does, and returns for each
// failing entry the message modprobe would have printed next to the
// error, for the agent's log.
func LoadKataModules(ctx context.Context, l *modprobe.Loader, entries []string, show func(modprobe.Action)) error {
	for _, e := range entries {
		fields := strings.Fields(e)
		if len(fields) == 0 {
			continue
		}
		err := l.LoadWith(ctx, fields[0], fields[1:], modprobe.LoadOptions{Show: show})
		if err != nil {
			return fmt.Errorf("kernel_modules entry %q: %w", e, err)
		}
	}
	return nil
}
