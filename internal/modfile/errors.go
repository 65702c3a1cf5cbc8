package modfile

import "errors"

// ErrTooLarge: a module decompresses to more than the limit it was read
// with. Package modprobe exports it as modprobe.ErrTooLarge, the same
// value, so errors.Is finds either name.
var ErrTooLarge = errors.New("decompressed module too large")

// DefaultMaxModuleSize is the largest decompressed module read unless the
// caller says otherwise (modprobe.DefaultMaxModuleSize, the same value).
const DefaultMaxModuleSize = 512 << 20
