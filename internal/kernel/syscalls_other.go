//go:build !linux

package kernel

import (
	"errors"
	"fmt"
	"os"
)

// Flags of finit_module(2), with Linux's values.
const (
	InitIgnoreModversions = 1
	InitIgnoreVermagic    = 2
	InitCompressedFile    = 4
)

// Flags of delete_module(2), with Linux's (x86) values.
const (
	DeleteNonblock = 0x800
	DeleteForce    = 0x200
)

// FinitModule is not available on this system.
func FinitModule(f *os.File, params string, flags int) error {
	return fmt.Errorf("finit_module: %w", errors.ErrUnsupported)
}

// InitModule is not available on this system.
func InitModule(image []byte, params string) error {
	return fmt.Errorf("init_module: %w", errors.ErrUnsupported)
}

// DeleteModule is not available on this system.
func DeleteModule(name string, flags int) error {
	return fmt.Errorf("delete_module: %w", errors.ErrUnsupported)
}

// FinitModuleRaw is not available on this system.
func FinitModuleRaw(f *os.File, params string, flags int) error {
	return FinitModule(f, params, flags)
}
