package kernel

import (
	"os"

	"golang.org/x/sys/unix"
)

// Flags of finit_module(2).
const (
	InitIgnoreModversions = unix.MODULE_INIT_IGNORE_MODVERSIONS
	InitIgnoreVermagic    = unix.MODULE_INIT_IGNORE_VERMAGIC
	InitCompressedFile    = unix.MODULE_INIT_COMPRESSED_FILE // Linux 6.4
)

// Flags of delete_module(2).
const (
	DeleteNonblock = unix.O_NONBLOCK
	DeleteForce    = unix.O_TRUNC
)

// FinitModule loads the module in f with finit_module(2). The error is
// the bare errno (a syscall.Errno), as callers compare it.
func FinitModule(f *os.File, params string, flags int) error {
	return retryEINTR(func() error { return unix.FinitModule(int(f.Fd()), params, flags) })
}

// InitModule loads the module image with init_module(2).
func InitModule(image []byte, params string) error {
	return retryEINTR(func() error { return unix.InitModule(image, params) })
}

// DeleteModule removes the module called name with delete_module(2).
func DeleteModule(name string, flags int) error {
	return retryEINTR(func() error { return unix.DeleteModule(name, flags) })
}

func retryEINTR(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}
