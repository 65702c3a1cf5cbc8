package modprobe

import (
	"os"

	"github.com/gokmod/modprobe/internal/kernel"
)

// Kernel is the Loader's one door to the kernel: the three module system
// calls. Errors are returned as the kernel gives them, a syscall.Errno
// (wrapped or not); EINTR should be retried by the Kernel itself, as the
// running kernel's implementation does: the Loader reports it as it
// comes. Options.Kernel replaces the running kernel, for
// instance with modprobetest's fake one; module state is still read from
// Options.SysfsDir.
type Kernel interface {
	// FinitModule loads the module in file f, as finit_module(2). After
	// an ENOSYS, the Loader calls it with a nil f to learn whether the
	// system call exists, as finit_module(-1, "", 0) does: it must then
	// load nothing and answer ENOSYS if finit_module is missing, and
	// anything else (the kernel says EBADF) if not.
	FinitModule(f *os.File, params string, flags InitFlags) error
	// InitModule loads the module image, as init_module(2).
	InitModule(image []byte, params string) error
	// DeleteModule removes the module called name, as delete_module(2).
	DeleteModule(name string, flags DeleteFlags) error
}

// InitFlags are finit_module(2)'s flags.
type InitFlags int

// finit_module flags.
const (
	// InitIgnoreModversions loads despite symbol version mismatches
	// (--force-modversion).
	InitIgnoreModversions InitFlags = kernel.InitIgnoreModversions
	// InitIgnoreVermagic loads despite a vermagic mismatch
	// (--force-vermagic).
	InitIgnoreVermagic InitFlags = kernel.InitIgnoreVermagic
	// InitCompressedFile asks the kernel to decompress the file itself
	// (Linux 5.17 and later, built with CONFIG_MODULE_DECOMPRESS; see
	// /sys/module/compression).
	InitCompressedFile InitFlags = kernel.InitCompressedFile
)

// DeleteFlags are delete_module(2)'s flags.
type DeleteFlags int

// delete_module flags.
const (
	// DeleteNonblock (O_NONBLOCK) fails at once when the module is in
	// use instead of waiting; kmod always sets it.
	DeleteNonblock DeleteFlags = kernel.DeleteNonblock
	// DeleteForce (O_TRUNC) removes a module even when it is in use
	// (rmmod -f; needs CONFIG_MODULE_FORCE_UNLOAD).
	DeleteForce DeleteFlags = kernel.DeleteForce
)

// systemKernel is the running kernel.
type systemKernel struct{}

func (systemKernel) FinitModule(f *os.File, params string, flags InitFlags) error {
	return kernel.FinitModule(f, params, int(flags))
}

func (systemKernel) InitModule(image []byte, params string) error {
	return kernel.InitModule(image, params)
}

func (systemKernel) DeleteModule(name string, flags DeleteFlags) error {
	return kernel.DeleteModule(name, int(flags))
}
