// Package kmodlog holds what the library and the gokmod command share about
// kmod's messages: the wording of C library error texts.
package kmodlog

import (
	"errors"
	"strings"
	"syscall"
)

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
