package kernel

import (
	"errors"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// threadMaskBlocks is threadBlocks for tests: a failure is fatal.
func threadMaskBlocks(t *testing.T, sig unix.Signal) bool {
	t.Helper()
	blocked, err := threadBlocks(sig)
	if err != nil {
		t.Fatal(err)
	}
	return blocked
}

// The call runs with SIGURG blocked on its thread, locked to it; other
// threads keep their mask, and the thread's mask is restored after.
func TestWithPreemptionBlocked(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if threadMaskBlocks(t, unix.SIGURG) {
		t.Fatal("SIGURG is blocked before the call")
	}
	tid := unix.Gettid()
	errCall := errors.New("the call's error")
	err := withPreemptionBlocked(func(blocked bool) error {
		if !blocked {
			t.Error("the call was told SIGURG is not blocked")
		}
		if got := unix.Gettid(); got != tid {
			t.Errorf("the call ran on thread %d, the caller's is %d", got, tid)
		}
		if !threadMaskBlocks(t, unix.SIGURG) {
			t.Error("SIGURG is not blocked during the call")
		}
		if threadMaskBlocks(t, unix.SIGUSR1) {
			t.Error("SIGUSR1 is blocked during the call")
		}
		other := make(chan bool)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b, err := threadBlocks(unix.SIGURG)
			other <- b || err != nil || unix.Gettid() == tid
		}()
		if <-other {
			t.Error("another thread blocks SIGURG during the call")
		}
		return errCall
	})
	if err != errCall {
		t.Errorf("got %v, want the call's error", err)
	}
	if threadMaskBlocks(t, unix.SIGURG) {
		t.Error("SIGURG is still blocked after the call")
	}
}

// A mask that already blocked SIGURG is restored as it was, not unblocked.
func TestWithPreemptionBlockedRestoresMask(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var set, old unix.Sigset_t
	sigaddset(&set, unix.SIGURG)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, &old); err != nil {
		t.Fatal(err)
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	_ = withPreemptionBlocked(func(bool) error { return nil })
	if !threadMaskBlocks(t, unix.SIGURG) {
		t.Error("the call unblocked SIGURG that the thread blocked before it")
	}
}

// A long module system call is not interrupted by the runtime's
// preemption: while the call runs, SIGURG sent to its thread stays
// pending, and is delivered once the mask is restored.
func TestPreemptionSignalPendingDuringCall(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	_ = withPreemptionBlocked(func(bool) error {
		if err := unix.Tgkill(unix.Getpid(), unix.Gettid(), unix.SIGURG); err != nil {
			t.Fatal(err)
		}
		var pending unix.Sigset_t
		if err := sigpending(&pending); err != nil {
			t.Fatal(err)
		}
		if !sigismember(&pending, unix.SIGURG) {
			t.Error("SIGURG sent to the thread during the call is not pending")
		}
		return nil
	})
}

// sigpending stores the signals pending for the calling thread in set
// (the kernel's mask: its first 64 signals).
func sigpending(set *unix.Sigset_t) error {
	_, _, e := unix.RawSyscall(unix.SYS_RT_SIGPENDING, uintptr(unsafe.Pointer(set)), 8, 0)
	if e != 0 {
		return e
	}
	return nil
}

// A call that panics leaves the thread's mask as it was.
func TestWithPreemptionBlockedPanic(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	func() {
		defer func() { _ = recover() }()
		_ = withPreemptionBlocked(func(bool) error { panic("call") })
	}()
	if threadMaskBlocks(t, unix.SIGURG) {
		t.Error("SIGURG is still blocked after a call that panicked")
	}
}
