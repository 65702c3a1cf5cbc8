package modprobe

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/gokmod/modprobe/internal/kmodlog"
)

// KmodMessages returns, for an error LoadWith, LoadAll or LoadAllWith
// returned, the messages kmod's modprobe prints for the same failures,
// one per failing request, without modprobe's "modprobe: ERROR: " or
// "modprobe: FATAL: " prefix: "could not insert 'NAME': REASON" in
// libkmod's words (strerror, "Module already in kernel", "Unknown symbol
// in module, or unknown parameter (see dmesg)"), or "Module NAME not found
// in directory DIR". A program that replaces modprobe (Kata's agent, an
// OCI hook) can log what its users are used to reading. It returns nil
// for nil; a failure that is no ModuleError comes as its own text.
func KmodMessages(err error) []string {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, KmodMessages(e)...)
		}
		return out
	}
	var me *ModuleError
	if !errors.As(err, &me) {
		return []string{err.Error()}
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrBadName) {
		return []string{fmt.Sprintf("Module %s not found in directory %s", me.Module, me.Path)}
	}
	errno, msg := kmodResult(err)
	switch {
	case errno == syscall.EEXIST:
		msg = "Module already in kernel"
	case errno == syscall.ENOENT:
		msg = "Unknown symbol in module, or unknown parameter (see dmesg)"
	case msg == "":
		msg = kmodlog.Strerror(errno)
	}
	return []string{fmt.Sprintf("could not insert '%s': %s", me.Module, msg)}
}

// kmodResult maps a load or removal error to the errno libkmod would
// return for it, with a message for errors that have no errno of their
// own (and EINVAL for them, as libkmod's callers see).
func kmodResult(err error) (syscall.Errno, string) {
	if errors.Is(err, ErrCommandFailed) {
		return syscall.EINVAL, ""
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno, ""
	}
	msg := err.Error()
	var me *ModuleError
	for errors.As(err, &me) {
		msg = me.Err.Error()
		err = me.Err
	}
	return syscall.EINVAL, msg
}

// KmodErrno returns the errno libkmod would return for a load or removal
// error (EINVAL for one that has none of its own, a failed install
// command among them); modprobe reports it and exits 1.
func KmodErrno(err error) syscall.Errno {
	errno, _ := kmodResult(err)
	return errno
}
