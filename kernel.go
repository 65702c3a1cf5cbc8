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
// instance with modprobetest's fake one or RawKernel; module state is
// still read from Options.SysfsDir.
//
// The running kernel's implementation, the default, makes each call on
// the calling goroutine's OS thread, locked to it for the call, with the
// Go runtime's preemption signal (SIGURG) blocked on that thread alone
// and its previous signal mask restored afterwards; no other thread's
// mask and no signal disposition changes. A signal that reaches the
// thread while the kernel waits interruptibly (in a module's init
// function, or for a module of the same name being loaded) fails the
// load, and the kernel restarts the system call from the start: reading,
// decompressing, checking the signature and relocating the module again.
// The call is otherwise an ordinary blocking system call for the Go
// scheduler, so the program's other goroutines and its garbage collector
// go on while a module's init function runs, however long it takes (a
// driver waiting for firmware may take a minute). RawKernel trades that
// for speed in short-lived programs.
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

// systemKernel is the running kernel, the Loader's default.
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

// RawKernel is the running kernel reached as gokmod's own commands reach
// it: finit_module(2) is a raw system call, which the Go scheduler does
// not see, made with the preemption signal blocked on the calling thread
// as the default Kernel does. Without the scheduler's hand-off of the
// thread's processor while the kernel loads a module, and the runtime
// monitor's wake-ups that come with it (loading a 35-module stack in the
// VM benchmarks: 800-940 voluntary context switches with the default
// Kernel, 245 with RawKernel, 4 for kmod's modprobe), gokmod's modprobe of
// that stack went from 1.03-1.09 times kmod's time to 0.87-0.94 when it
// moved to raw calls (docs/benchmarks.md, 2026-11-23). The price: while a
// module loads, a garbage collection's stop-the-world phase waits for the
// call to return, and so do the goroutines waiting for the caller's
// processor (with GOMAXPROCS=1, every goroutine), for as long as the
// module's init function runs. Use it only in a short-lived program that
// loads modules and little else, with the collector off (as gokmod's
// commands run: debug.SetGCPercent(-1)) or rarely running. init_module(2)
// and delete_module(2) are made as by the default Kernel.
//
// Neither Kernel avoids what follows a call of more than 10 ms (most
// module loads under an emulator): the runtime has asked the goroutine
// to yield meanwhile, and it does so when the call returns. With an idle
// processor the yield wakes another thread, which may take the goroutine
// over: a thread wake-up across CPUs between two modules, on the load's
// critical path (in the VM, Debian 12's 35-module stack: 235-261 ms
// between the calls a stack with either Kernel and GOMAXPROCS 2, 96 ms
// with GOMAXPROCS 1, 110 ms for kmod's modprobe). A library cannot choose
// its program's GOMAXPROCS; gokmod's modprobe, loading one module at a
// time, runs with 1 (internal/cli's LoadsOneAtATime, which says what
// that costs).
type RawKernel struct{ systemKernel }

// FinitModule loads the module in file f with a raw finit_module(2).
func (RawKernel) FinitModule(f *os.File, params string, flags InitFlags) error {
	return kernel.FinitModuleRaw(f, params, int(flags))
}
