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

// ErrTooDeep: a configuration.toml key nested more than MaxNesting
// levels deep, which no Kata configuration is.
var ErrTooDeep = errors.New("configuration nested too deeply")

// Limits on what the parsers accept.
const (
	// MaxElements is the most elements a list (configuration or
	// annotation, empty ones included) may have.
	MaxElements = 4096
	// MaxConfigSize is the largest configuration.toml ParseConfig reads.
	MaxConfigSize = 512 << 10
	// MaxNesting is the most levels a key or value of configuration.toml
	// may be nested: one for each component of its table header (and one
	// more in an array of tables), each dotted component of its key and of
	// the keys of the inline tables around it, and each array around it.
	// In [agent.kata] kernel_modules = ["x"], "x" is 4 levels deep, as
	// deep as Kata's own files go. The TOML decoder's work grows with the
	// square of this depth (it copies a key's path at each level), so
	// ParseConfig bounds it before the decoder sees the text.
	MaxNesting = 8
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
	// Line is the line of a configuration file the error is on, from 1;
	// 0 when the error is not about one line (the decoder's own messages
	// name their line).
	Line int
	Err  error
}

// Error returns "SOURCE: element N "TEXT": ERR" (N counted from 1),
// "SOURCE: line N: ERR" for an error on a line of a configuration file, or
// "SOURCE: ERR" for an error about the whole input.
func (e *ParseError) Error() string {
	if e.Index < 0 && e.Line > 0 {
		return fmt.Sprintf("%s: line %d: %v", e.Source, e.Line, e.Err)
	}
	if e.Index < 0 {
		return fmt.Sprintf("%s: %v", e.Source, e.Err)
	}
	return fmt.Sprintf("%s: element %d %q: %v", e.Source, e.Index+1, e.Element, e.Err)
}

// Unwrap returns the cause: ErrUnbalancedQuote, an error wrapping
// modprobe.ErrBadName, modprobe.ErrBadParams, ErrTooLarge or ErrTooDeep,
// or the TOML decoder's.
func (e *ParseError) Unwrap() error { return e.Err }
