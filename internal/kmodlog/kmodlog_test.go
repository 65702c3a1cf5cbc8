package kmodlog

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestStrerror(t *testing.T) {
	_, err := os.Open("/nonexistent/file")
	for in, want := range map[error]string{
		err:                                "No such file or directory",
		syscall.EEXIST:                     "File exists",
		fmt.Errorf("x: %w", syscall.EPERM): "Operation not permitted",
	} {
		if got := Strerror(in); got != want {
			t.Errorf("Strerror(%v) = %q, want %q", in, got, want)
		}
	}
}
