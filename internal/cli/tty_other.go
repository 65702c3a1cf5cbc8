//go:build !linux

package cli

import "os"

// isTerminal reports whether f is a character device, which on this
// system stands in for isatty(3).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
