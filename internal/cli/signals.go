package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// What a tool does on SIGTERM or SIGINT:
//
//   - The first one cancels the context the tool runs with (Env.Ctx):
//     the step in flight finishes (a module whose insertion has begun
//     goes in; an install command in flight is sent SIGTERM, and SIGKILL
//     if it has not ended within installGrace), nothing after it starts,
//     and every read that may wait (standard input, a registry) returns.
//     The signal's default action is back from then on, so a second one
//     ends the process at once.
//   - Then kmod's tools (modprobe, insmod, rmmod, lsmod, modinfo, depmod)
//     end as kmod's end, which have no handler: by the signal itself,
//     so that a parent sees WIFSIGNALED and a shell $? of 128+N (143 for
//     SIGTERM, 130 for SIGINT). They print nothing about the work the
//     signal stopped.
//   - gokmod's own tools (kata, oci-hook, kmm) print their error, saying
//     which signal stopped them, and exit with status 1, as KMM's worker
//     does.
//   - A tool that has not stopped StopGrace after the signal (a write to a
//     pipe nobody reads, a device read that never returns) is ended by the
//     signal, as kmod would have been at once.
//   - Except during one module's load by gokmod modprobe or insmod with
//     one job (Env.LoadsOneAtATime): the process then has one processor,
//     which the raw finit_module holds, so the goroutine that handles the
//     signals runs when the module's init returns; the rules above apply
//     from there (the module went in, nothing after it starts). A
//     module's init that waits a long time (for firmware, say) is not cut
//     short by StopGrace or a second signal, where kmod, which has no
//     handler, may die in a killable wait.
//
// The signals are watched from the first Env.Context (or Stopper.Watch)
// on: watching costs a start-up (two runtime threads, about 0.2 ms),
// which a tool that changes nothing and waits on nothing (modprobe -D,
// -V, a lookup) need not pay. Until then SIGTERM and SIGINT have their
// default action, as in kmod's tools: the process ends by the signal at
// once, which is what the rules above come to when no step is in flight.
// So a tool asks for Env.Context before it starts anything a signal must
// not cut short (an insertion, a removal, a command, a write, a read that
// may wait), and uses Env.LookupContext for work that changes nothing;
// gokmod's own tools, which report a signal whenever it comes, watch from
// their start.
//
// A SIGINT ignored when the process started (a shell's background job)
// stays ignored, as it does for kmod. One difference from kmod, on
// purpose: kmod runs install commands with system(3), which ignores
// SIGINT in modprobe while the command runs, so a SIGINT then is lost to
// modprobe and modprobe -a goes on with the next name; gokmod stops there
// as at any other step. An ignored SIGTERM cannot be: the
// Go runtime takes SIGTERM whatever the parent set, so gokmod handles it
// as above.

// StopGrace is how long a tool has to reach a safe point after the first
// signal before the signal ends it.
const StopGrace = 10 * time.Second

// SignalError is the cause of a context a signal cancelled.
type SignalError struct{ Sig syscall.Signal }

func (e *SignalError) Error() string { return "stopped by " + SignalName(e.Sig) }

// Unwrap makes the cause a cancellation too, for code that reports
// context.Cause (net/http does).
func (e *SignalError) Unwrap() error { return context.Canceled }

// SignalName is the signal's C name.
func SignalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return sig.String()
}

// Stopper turns the stopping signals into the cancellation of a tool's
// context, and ends the process as the tool's kind must once the tool
// has returned.
type Stopper struct {
	ch       chan os.Signal
	cancel   context.CancelCauseFunc
	done     chan struct{} // closed when the tool has returned
	mu       sync.Mutex
	watching bool           // Watch has run
	got      syscall.Signal // the first signal, 0 until one came
}

// NewStopper returns the context a tool runs with and the Stopper that
// cancels it, not yet watching the signals (see Watch).
func NewStopper() (context.Context, *Stopper) {
	ctx, cancel := context.WithCancelCause(context.Background())
	return ctx, &Stopper{ch: make(chan os.Signal, 2), cancel: cancel, done: make(chan struct{})}
}

// WatchSignals returns the context the tool runs with and its Stopper,
// watching the signals already.
func WatchSignals() (context.Context, *Stopper) {
	ctx, s := NewStopper()
	s.Watch()
	return ctx, s
}

// Watch starts watching SIGTERM and SIGINT (those not ignored), once;
// it does nothing after Exit. Safe for concurrent use.
func (s *Stopper) Watch() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watching {
		return
	}
	s.watching = true
	select {
	case <-s.done:
		return
	default:
	}
	var sigs []os.Signal
	for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGINT} {
		if !signal.Ignored(sig) {
			sigs = append(sigs, sig)
		}
	}
	if len(sigs) == 0 {
		return
	}
	signal.Notify(s.ch, sigs...)
	go s.wait(sigs)
}

// wait cancels the context at the first signal, gives the default action
// back, and ends the process by the signal if the tool has not returned
// within StopGrace.
func (s *Stopper) wait(sigs []os.Signal) {
	var sig syscall.Signal
	select {
	case v := <-s.ch:
		sig = v.(syscall.Signal)
	case <-s.done:
		return
	}
	s.mu.Lock()
	s.got = sig
	s.mu.Unlock()
	signal.Reset(sigs...)
	s.cancel(&SignalError{Sig: sig})
	select {
	case <-s.done:
	case v := <-s.ch: // a second one, come before the Reset
		dieBy(v.(syscall.Signal))
	case <-time.After(StopGrace):
		dieBy(sig)
	}
}

// Exit returns the process's exit status for a tool that returned
// status; when a signal stopped a tool that must die by it (kmod's tools,
// dieBySignal), it does not return: the process ends by the signal.
func (s *Stopper) Exit(status int, dieBySignal bool) int {
	s.mu.Lock()
	close(s.done)
	sig := s.got
	s.mu.Unlock()
	if sig != 0 && dieBySignal {
		dieBy(sig)
	}
	return status
}

// dieBy ends the process by sig, with the signal's default action.
func dieBy(sig syscall.Signal) {
	signal.Reset(sig)
	_ = syscall.Kill(syscall.Getpid(), sig)
	// The default action ends the process before long; should it not
	// (the signal blocked by a parent), exit as a shell reports it.
	time.Sleep(time.Second)
	os.Exit(128 + int(sig))
}

// Context is the context the tool runs with: cancelled by SIGTERM or
// SIGINT in the gokmod process, never in tests that set none. It starts
// watching the signals (Env.Stopper): a tool asks for it before it starts
// anything a signal must not cut short.
func (e *Env) Context() context.Context {
	e.Watch()
	return e.LookupContext()
}

// Watch starts watching the signals, as Context does, before a step that
// takes no context but must not be cut short (writing a file).
func (e *Env) Watch() {
	if e.Stopper != nil {
		e.Stopper.Watch()
	}
}

// LookupContext is Context for work that changes nothing and waits on
// nothing (a lookup, a plan): it does not start watching the signals, so
// that a signal before anything has started ends the process at once, as
// it ends kmod's.
func (e *Env) LookupContext() context.Context {
	if e.Ctx != nil {
		return e.Ctx
	}
	return context.Background()
}

// Interrupted returns what stopped the tool's context (the signal), or
// nil while it runs on.
func (e *Env) Interrupted() error {
	ctx := e.LookupContext()
	if ctx.Err() == nil {
		return nil
	}
	return context.Cause(ctx)
}

// Explain adds the signal that stopped the tool to err when err is the
// cancellation it caused, or says only the signal when err is nothing
// more.
func (e *Env) Explain(err error) error {
	cause := e.Interrupted()
	switch {
	case cause == nil || !errors.Is(err, context.Canceled) || errors.Is(err, cause):
		return err
	case err == context.Canceled:
		return cause
	}
	return fmt.Errorf("%w (%v)", err, cause)
}

// CancelledBy reports whether err is only the cancellation of the tool's
// context, which kmod's tools do not report.
func (e *Env) CancelledBy(err error) bool {
	return e.Interrupted() != nil && errors.Is(err, context.Canceled)
}

// Interruptible runs read, which may wait where no context reaches
// (standard input, a device), and returns what it returns, or ctx's error
// as soon as ctx is done. A read still waiting then is left behind: the
// process is about to end.
func Interruptible[T any](ctx context.Context, read func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := read()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}
