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
// module's init function sees the error. call learns whether the signal
// is blocked: if the mask cannot be changed, call runs all the same, told
// so.
func withPreemptionBlocked(call func(blocked bool) error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var block, old unix.Sigset_t
	sigaddset(&block, unix.SIGURG)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &block, &old); err != nil {
		return call(false)
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	return call(true)
}

// sigaddset adds sig to set.
func sigaddset(set *unix.Sigset_t, sig unix.Signal) {
	word, bit := sigbit(set, sig)
	set.Val[word] |= bit
}

// sigismember reports whether set holds sig.
func sigismember(set *unix.Sigset_t, sig unix.Signal) bool {
	word, bit := sigbit(set, sig)
	return set.Val[word]&bit != 0
}

// sigbit returns the word of set and the bit in it that stand for sig.
func sigbit(set *unix.Sigset_t, sig unix.Signal) (int, uint64) {
	n := uint(sig) - 1
	w := uint(unsafe.Sizeof(set.Val[0])) * 8
	return int(n / w), 1 << (n % w)
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
