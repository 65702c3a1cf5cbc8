package consumer

import (
	"context"
	"errors"

	"github.com/gokmod/modprobe"
)

// LoadFromImageTree is a KMM worker's load step: remove the in-tree
// modules the Module names (those not loaded are fine), then load the
// module from the kmod image's tree, whose Loader the caller opened on
// that tree.
func LoadFromImageTree(ctx context.Context, host, image *modprobe.Loader, inTree []string, module string) error {
	for _, name := range inTree {
		err := host.Remove(ctx, name)
		if err != nil && !errors.Is(err, modprobe.ErrNotLoaded) && !errors.Is(err, modprobe.ErrNotFound) {
			return err
		}
	}
	return image.LoadWith(ctx, module, nil, modprobe.LoadOptions{Jobs: 8})
}
