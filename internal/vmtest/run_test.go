package vmtest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestExitLine(t *testing.T) {
	for _, tc := range []struct {
		console string
		want    int
	}{
		{"PASS\n\nGOKMOD-VM-EXIT: 0\n[ 4.5] reboot: Power down\n", 0},
		{"FAIL\r\nGOKMOD-VM-EXIT: 1\r\n", 1},
		{"[ 1.0] noise GOKMOD-VM-EXIT: 3\n", 3},
		{"GOKMOD-VM-EXIT: 0\nGOKMOD-VM-EXIT: 2\n", 2}, // the last one counts
		{"GOKMOD-VM-EXIT: 0 trailing\n", -1},
		{"kernel panic\n", -1},
	} {
		got := -1
		if ms := exitLine.FindAllStringSubmatch(tc.console, -1); len(ms) > 0 {
			got, _ = strconv.Atoi(ms[len(ms)-1][1])
		}
		if got != tc.want {
			t.Errorf("%q: status %d, want %d", tc.console, got, tc.want)
		}
	}
}

func TestTail(t *testing.T) {
	if got := Tail("a\r\nb\r\nc\r\n", 2); got != "...\nb\nc" {
		t.Errorf("Tail = %q", got)
	}
	if got := Tail("a\nb\n", 5); got != "a\nb" {
		t.Errorf("Tail = %q", got)
	}
}

func TestLineWriter(t *testing.T) {
	var lines []string
	w := NewLineWriter(func(l string) { lines = append(lines, l) })
	for _, s := range []string{"one\r", "\ntw", "o\nthree\n", "\nrest"} {
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	if got := strings.Join(lines, "|"); got != "one|two|three||rest" {
		t.Errorf("lines = %q", got)
	}
}

func TestMachineArgs(t *testing.T) {
	m := Machine{Kernel: "K", Initrd: "I", Cmdline: []string{"--", "-test.v"}}
	args := strings.Join(m.Args(), " ")
	for _, want := range []string{
		"-accel tcg,thread=multi", "-m 1024", "-smp 2", "-no-reboot", "-kernel K", "-initrd I",
		"-append console=ttyS0 panic=-1 quiet loglevel=3 rdinit=/init cryptomgr.notests rcupdate.rcu_expedited=1 -- -test.v",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("qemu arguments %q lack %q", args, want)
		}
	}
}

// TestRunFakeQEMU runs Run against shell scripts standing in for qemu.
func TestRunFakeQEMU(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	for _, tc := range []struct {
		name, script string
		timeout      time.Duration
		status       int
		errIs        error // nil: no error
	}{
		{"pass", `printf 'PASS\r\n\r\nGOKMOD-VM-EXIT: 0\r\n[ 4.5] reboot: Power down\r\n'`, time.Minute, 0, nil},
		{"fail", `printf 'FAIL\nGOKMOD-VM-EXIT: 1\n'`, time.Minute, 1, nil},
		{"panic", `echo 'Kernel panic - not syncing: Attempted to kill init!'`, time.Minute, -1, ErrNoStatus},
		{"hang", `echo booting; exec sleep 60`, 300 * time.Millisecond, -1, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			qemu := filepath.Join(t.TempDir(), "qemu")
			if err := os.WriteFile(qemu, []byte("#!/bin/sh\n"+tc.script+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), tc.timeout)
			defer cancel()
			var console strings.Builder
			res, err := Run(ctx, Machine{QEMU: qemu, Kernel: "K", Initrd: "I", Console: &console})
			if tc.errIs == nil && err != nil || tc.errIs != nil && !errors.Is(err, tc.errIs) {
				t.Fatalf("err = %v, want %v", err, tc.errIs)
			}
			if res.Status != tc.status {
				t.Errorf("status %d, want %d", res.Status, tc.status)
			}
			if strings.Contains(res.Output, "\r") {
				t.Errorf("output keeps carriage returns: %q", res.Output)
			}
			if console.Len() == 0 {
				t.Error("nothing streamed to Console")
			}
			if err != nil && !strings.Contains(err.Error(), "console tail:") {
				t.Errorf("error without the console tail: %v", err)
			}
		})
	}
}
