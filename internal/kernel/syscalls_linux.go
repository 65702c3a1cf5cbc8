package kernel

import (
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Flags of finit_module(2).
const (
	InitIgnoreModversions = unix.MODULE_INIT_IGNORE_MODVERSIONS
	InitIgnoreVermagic    = unix.MODULE_INIT_IGNORE_VERMAGIC
	InitCompressedFile    = unix.MODULE_INIT_COMPRESSED_FILE // Linux 5.17
)

// Flags of delete_module(2).
const (
	DeleteNonblock = unix.O_NONBLOCK
	DeleteForce    = unix.O_TRUNC
)

// FinitModule loads the module in f with finit_module(2). The error is
// the bare errno (a syscall.Errno), as callers compare it. The call is
// an ordinary blocking system call for the Go scheduler (the processor is
// handed to other goroutines while the kernel loads the module), made
// with the runtime's preemption signal blocked on the calling thread
// (see withPreemptionBlocked), so that the load is not restarted.
func FinitModule(f *os.File, params string, flags int) error {
	return withPreemptionBlocked(func(bool) error { return finitModule(f, params, flags) })
}

// finitModule is finit_module(2) with the process's signal mask.
func finitModule(f *os.File, params string, flags int) error {
	return retryEINTR(func() error { return unix.FinitModule(int(f.Fd()), params, flags) })
}

// InitModule loads the module image with init_module(2), the preemption
// signal blocked as for FinitModule.
func InitModule(image []byte, params string) error {
	return withPreemptionBlocked(func(bool) error {
		return retryEINTR(func() error { return unix.InitModule(image, params) })
	})
}

// DeleteModule removes the module called name with delete_module(2), the
// preemption signal blocked as for FinitModule: the kernel's wait for
// the module's lock and its exit function are interruptible too.
func DeleteModule(name string, flags int) error {
	return withPreemptionBlocked(func(bool) error {
		return retryEINTR(func() error { return unix.DeleteModule(name, flags) })
	})
}

func retryEINTR(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}

// FinitModuleRaw is FinitModule without telling the Go scheduler that the
// thread blocks: no hand-off of its processor and none of the runtime
// monitor's wake-ups that come with it while the kernel loads the module
// (about 30 context switches a module, 13% of a modprobe's time in the
// VM). Only for short-lived tools: a garbage collection waits for the
// call to return, and so do the goroutines of its processor. The
// runtime's preemption signal (SIGURG) is blocked meanwhile, so that it
// cannot interrupt an interruptible wait in a module's init function and
// have the kernel restart the whole load.
func FinitModuleRaw(f *os.File, params string, flags int) error {
	p, err := unix.BytePtrFromString(params)
	if err != nil {
		return err
	}
	fd := f.Fd()
	return withPreemptionBlocked(func(blocked bool) error {
		if !blocked {
			// Unmasked, the runtime's preemption of a long raw call
			// would restart the load again and again.
			return finitModule(f, params, flags)
		}
		for {
			_, _, e := unix.RawSyscall(unix.SYS_FINIT_MODULE, fd, uintptr(unsafe.Pointer(p)), uintptr(flags))
			runtime.KeepAlive(f)
			switch e {
			case 0:
				return nil
			case unix.EINTR:
				continue
			}
			return e
		}
	})
}
