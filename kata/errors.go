package kata

import (
	"errors"
	"fmt"
)

// ErrUnbalancedQuote: an element opens a double quote it does not close.
var ErrUnbalancedQuote = errors.New("unbalanced double quote")

// ErrTooLarge: a list or configuration file beyond the limits below,
// which no sandbox needs.
var ErrTooLarge = errors.New("kernel module list too large")

// Limits on what the parsers accept.
const (
	// MaxElements is the most elements a list (configuration or
	// annotation, empty ones included) may have.
	MaxElements = 4096
	// MaxConfigSize is the largest configuration.toml ParseConfig reads.
	MaxConfigSize = 512 << 10
)

// ParseError reports an element of a kernel module list, or a
// configuration file, that could not be read.
type ParseError struct {
	// Source names the input: a configuration file and its key, or the
	// annotation.
	Source string
	// Index is the element's position in its list, from 0; -1 when the
	// error is not about one element (the TOML itself is malformed).
	Index int
	// Element is the element's text.
	Element string
	Err     error
}

// Error returns "SOURCE: element N "TEXT": ERR" (N counted from 1), or
// "SOURCE: ERR" for an error about the whole input.
func (e *ParseError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("%s: %v", e.Source, e.Err)
	}
	return fmt.Sprintf("%s: element %d %q: %v", e.Source, e.Index+1, e.Element, e.Err)
}

// Unwrap returns the cause: ErrUnbalancedQuote, an error wrapping
// modprobe.ErrBadName or modprobe.ErrBadParams, or the TOML decoder's.
func (e *ParseError) Unwrap() error { return e.Err }
