// Package cscan reads text the way C's stdio does where the output of
// kmod's tools depends on it: the lines fgets returns with a fixed
// buffer, and scanf's %s and %u conversions in the C locale.
package cscan

import (
	"bytes"
	"math"
	"strings"
)

// Lines splits data as repeated fgets(buf, size, f) calls do: at each
// newline, which stays with its line, and after size-1 bytes of a longer
// line. size must be at least 2.
func Lines(data []byte, size int) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		n := bytes.IndexByte(data, '\n') + 1
		if n == 0 || n > size-1 {
			n = min(len(data), size-1)
		}
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

// CString returns s up to its first NUL byte, the string C sees.
func CString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// IsSpace is isspace(3) in the C locale.
func IsSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// SkipSpace drops the white space at the start of s, as a blank in a
// scanf format does.
func SkipSpace(s string) string {
	i := 0
	for i < len(s) && IsSpace(s[i]) {
		i++
	}
	return s[i:]
}

// Word is scanf's %s: white space skipped, then the bytes up to the next
// white space. It reports false when s holds no such byte.
func Word(s string) (word, rest string, ok bool) {
	s = SkipSpace(s)
	i := 0
	for i < len(s) && !IsSpace(s[i]) {
		i++
	}
	return s[:i], s[i:], i > 0
}

// Uint is scanf's %u as glibc converts it: white space skipped, an
// optional sign, decimal digits. The number is read as strtoul reads it
// (a value past the 64-bit range is the largest one, a minus sign negates
// modulo 2^64) and stored into an unsigned int, so it wraps to 32 bits.
// It reports false when no digit follows.
func Uint(s string) (value uint32, rest string, ok bool) {
	s = SkipSpace(s)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	i := 0
	var v uint64
	overflow := false
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			overflow = true
		}
		v = v*10 + d
		i++
	}
	if i == 0 {
		return 0, s, false
	}
	switch {
	case overflow:
		v = math.MaxUint64
	case neg:
		v = -v
	}
	return uint32(v), s[i:], true
}
