package vmtest

import (
	"bytes"
	"sync"
)

// LineWriter is an io.Writer that calls a function with each complete line
// written to it, without its line end ("\n" or "\r\n"); Flush passes on an
// unterminated last line. Use it to stream a VM's console into t.Log.
type LineWriter struct {
	mu  sync.Mutex
	fn  func(line string)
	buf []byte
}

// NewLineWriter returns a LineWriter calling fn.
func NewLineWriter(fn func(line string)) *LineWriter { return &LineWriter{fn: fn} }

// Write calls the function for every line p completes.
func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.fn(string(bytes.TrimSuffix(w.buf[:i], []byte("\r"))))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// Flush passes on what remains after the last line end, if anything.
func (w *LineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.fn(string(bytes.TrimSuffix(w.buf, []byte("\r"))))
		w.buf = nil
	}
}
