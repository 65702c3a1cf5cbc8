//go:build vmguest

package guest

import (
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"
)

// kmsg reads the kernel log records written after it was opened, through
// /dev/kmsg.
type kmsg struct{ fd int }

// openKmsg opens the kernel log at its end; Close releases it.
func openKmsg(t testing.TB) *kmsg {
	t.Helper()
	// Not os.Open: the runtime poller would wait for records instead of
	// reporting EAGAIN at the end of the log.
	fd, err := syscall.Open("/dev/kmsg", syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("/dev/kmsg: %v", err)
	}
	if _, err := syscall.Seek(fd, 0, io.SeekEnd); err != nil {
		syscall.Close(fd)
		t.Fatalf("/dev/kmsg: %v", err)
	}
	return &kmsg{fd: fd}
}

// Close closes the log.
func (k *kmsg) Close() { syscall.Close(k.fd) }

// lines returns the text of the records logged since the last call (or
// the open), one line each, without priority, sequence number and time.
func (k *kmsg) lines(t testing.TB) []string {
	t.Helper()
	var out []string
	buf := make([]byte, 16<<10)
	for {
		n, err := syscall.Read(k.fd, buf)
		switch {
		case errors.Is(err, syscall.EAGAIN):
			return out
		case errors.Is(err, syscall.EPIPE):
			// Records were overwritten before they were read; the next
			// read returns the oldest one left.
			out = append(out, "(kernel log records lost)")
			continue
		case err != nil:
			t.Fatalf("/dev/kmsg: %v", err)
		}
		// "PRIORITY,SEQUENCE,MICROSECONDS,FLAGS[,...];TEXT\n" and
		// " KEY=VALUE\n" continuation lines.
		rec := string(buf[:n])
		if _, text, ok := strings.Cut(rec, ";"); ok {
			text, _, _ = strings.Cut(text, "\n")
			out = append(out, text)
		}
	}
}

// countLines returns how many of lines contain substr.
func countLines(lines []string, substr string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}
