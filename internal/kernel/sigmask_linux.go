package kernel

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// withPreemptionBlocked runs call on the calling goroutine's OS thread,
// locked to it, with the Go runtime's preemption signal (SIGURG) blocked
// on that thread alone; the thread's previous mask is restored before it
// is unlocked, and no other thread's mask or signal disposition changes.
// A signal that reaches a thread in an interruptible wait of the kernel
// ends the wait; in finit_module that fails the module's load and the
// kernel restarts the system call from the start (reading, decompressing,
// checking the signature and relocating the module again), or the
// module's init function sees the error. And the runtime does send it
// there: its monitor asks a goroutine that has held its processor for
// 10 ms to yield, with SIGURG to its thread, even while the thread is in
// a blocking system call whose processor has not yet been handed off.
// call learns whether the signal is blocked: if the mask cannot be
// changed, call runs all the same, told so.
//
// After a long call the goroutine has such a request pending, which it
// honours at its next function call. The mask is restored and the thread
// unlocked before that, with nothing but raw system calls and
// runtime.UnlockOSThread in between (none of them can be preempted): a
// goroutine that yields while locked to its thread makes the runtime
// hand its processor to another thread and back, a handful of thread
// wake-ups across CPUs a module, which strace showed after every
// finit_module of a few milliseconds in the VM.
func withPreemptionBlocked(call func(blocked bool) error) error {
	runtime.LockOSThread()
	var block, old unix.Sigset_t
	sigaddset(&block, unix.SIGURG)
	if sigprocmask(unix.SIG_BLOCK, &block, &old) != 0 {
		runtime.UnlockOSThread()
		return call(false)
	}
	restored := false
	defer func() {
		if !restored { // call panicked
			sigprocmask(unix.SIG_SETMASK, &old, nil)
			runtime.UnlockOSThread()
		}
	}()
	err := call(true)
	sigprocmask(unix.SIG_SETMASK, &old, nil)
	runtime.UnlockOSThread()
	restored = true
	return err
}

// sigprocmask changes the calling thread's signal mask with a raw
// rt_sigprocmask(2), as pthread_sigmask(3) does. It cannot be preempted
// (nosplit, and the system call is raw), so it may run between a long
// system call and runtime.UnlockOSThread.
//
//go:nosplit
func sigprocmask(how int, set, old *unix.Sigset_t) unix.Errno {
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, uintptr(how), uintptr(unsafe.Pointer(set)), uintptr(unsafe.Pointer(old)), kernelSigsetSize, 0, 0)
	return e
}

// sigaddset adds sig to set.
func sigaddset(set *unix.Sigset_t, sig unix.Signal) {
	word, bit := sigbit(set, sig)
	set.Val[word] |= 1 << bit
}

// sigismember reports whether set holds sig.
func sigismember(set *unix.Sigset_t, sig unix.Signal) bool {
	word, bit := sigbit(set, sig)
	return set.Val[word]&(1<<bit) != 0
}

// sigbit returns the word of set and the bit in it that stand for sig.
func sigbit(set *unix.Sigset_t, sig unix.Signal) (word, bit uint) {
	n := uint(sig) - 1
	w := uint(unsafe.Sizeof(set.Val[0])) * 8
	return n / w, n % w
}

// threadBlocks reports whether the calling thread blocks sig (for tests,
// on a locked thread).
func threadBlocks(sig unix.Signal) (bool, error) {
	var cur unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, nil, &cur); err != nil {
		return false, err
	}
	return sigismember(&cur, sig), nil
}
