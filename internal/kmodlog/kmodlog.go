// Package kmodlog holds what the library and the gokmod command share about
// kmod's messages: the wording of C library error texts, and a way for the
// command to learn, for each message the library logs, the place in
// libkmod 30 that logs the same message, which Debian's kmod prints.
package kmodlog

import (
	"errors"
	"strings"
	"syscall"
)

// AttrOrigin is the log attribute holding a message's libkmod 30 origin,
// "libkmod-config.c:712 kmod_config_parse". The library adds it only for a
// handler that implements OriginHandler, so library users never see it.
const AttrOrigin = "kmod_origin"

// OriginHandler is implemented by slog handlers that want AttrOrigin.
type OriginHandler interface {
	WantKmodOrigin()
}

// Strerror returns the C library's text for the errno in err ("No such
// file or directory"), or err's own text capitalized like it.
func Strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if errno == 0 {
			return "Success" // strerror(0), which %m prints after a call that set no errno
		}
		err = errno
	}
	s := err.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
