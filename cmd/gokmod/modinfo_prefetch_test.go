package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestPrefetchOutOfStep: when modinfo asks for another file than the
// next one read ahead (the tree changed between the two resolutions),
// take says so and the caller reads the file itself; the files read
// ahead still come in order.
func TestPrefetchOutOfStep(t *testing.T) {
	dir := t.TempDir()
	path := func(arg string) []string { return []string{filepath.Join(dir, arg+".ko")} }
	m := &modinfoCmd{}
	p := m.startPrefetch(context.Background(), []string{"x", "y"}, path)
	if p == nil {
		t.Fatal("no prefetcher for two operands")
	}
	defer p.stop()
	if f := p.take(path("y")[0]); f != nil {
		t.Fatalf("take(y) before x = %+v, want nil", f)
	}
	for _, arg := range []string{"x", "y"} {
		f := p.take(path(arg)[0])
		if f == nil {
			t.Fatalf("take(%s) = nil", arg)
		}
		if !errors.Is(f.err, os.ErrNotExist) {
			t.Errorf("take(%s).err = %v, want the missing file's error", arg, f.err)
		}
	}
	if f := p.take(path("y")[0]); f != nil {
		t.Errorf("take(y) after the last one = %+v, want nil", f)
	}
}

// TestPrefetchStops: stopping after one file of many, or with the
// context already cancelled, returns and leaves no goroutine waiting.
func TestPrefetchStops(t *testing.T) {
	dir := t.TempDir()
	var operands []string
	for i := range 1000 {
		operands = append(operands, fmt.Sprint(i))
	}
	path := func(arg string) []string { return []string{filepath.Join(dir, arg+".ko")} }
	m := &modinfoCmd{}
	p := m.startPrefetch(context.Background(), operands, path)
	if f := p.take(path("0")[0]); f == nil {
		t.Fatal("take(0) = nil")
	}
	p.stop()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m.startPrefetch(ctx, operands, path).stop()
}

// TestPrefetchOnlyWhenUseful: one operand, or -n (only file names), reads
// nothing ahead.
func TestPrefetchOnlyWhenUseful(t *testing.T) {
	path := func(arg string) []string { return []string{arg} }
	if p := (&modinfoCmd{}).startPrefetch(context.Background(), []string{"a"}, path); p != nil {
		t.Error("a prefetcher for one operand")
	}
	if p := (&modinfoCmd{field: "filename"}).startPrefetch(context.Background(), []string{"a", "b"}, path); p != nil {
		t.Error("a prefetcher for -n")
	}
}
