package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// prefetchTree returns a resolver of operands to compressed module files
// (named with ext) in a directory where none exists, counting its calls,
// and the path of an operand's file.
func prefetchTree(t *testing.T) (resolve func(string) *operand, calls *atomic.Int64, path func(string) string) {
	return prefetchTreeOf(t, ".ko.xz")
}

// prefetchTreeOf is prefetchTree for files named with ext.
func prefetchTreeOf(t *testing.T, ext string) (resolve func(string) *operand, calls *atomic.Int64, path func(string) string) {
	dir := t.TempDir()
	path = func(arg string) string { return filepath.Join(dir, arg+ext) }
	calls = new(atomic.Int64)
	resolve = func(arg string) *operand {
		calls.Add(1)
		return &operand{arg: arg, mods: []modprobe.Module{{Name: arg, Path: path(arg)}}}
	}
	return resolve, calls, path
}

func files(o *operand) []string { return o.files(false) }

// TestPrefetchInOrder: the operands come back resolved once each, in
// order, with their files read; a module asked for out of step (the
// tree changed between the two resolutions) is not taken, and the
// caller reads it itself.
func TestPrefetchInOrder(t *testing.T) {
	resolve, calls, path := prefetchTree(t)
	m := &modinfoCmd{}
	args := []string{"x", "y", "z"}
	p := m.startPrefetch(context.Background(), args, resolve, files)
	require.NotNil(t, p, "a prefetcher for three operands")
	defer p.stop()
	for _, arg := range args {
		o := p.next()
		require.NotNil(t, o, arg)
		assert.Equal(t, arg, o.arg)
		assert.Nil(t, o.take(path("other")), "a file the operand does not name")
		f := o.take(path(arg))
		require.NotNil(t, f, arg)
		assert.ErrorIs(t, f.err, os.ErrNotExist, "the missing file's error")
		assert.Nil(t, o.take(path(arg)), "taken twice")
	}
	assert.Nil(t, p.next(), "past the last operand")
	assert.Equal(t, int64(len(args)), calls.Load(), "each operand resolved once")
}

// TestPrefetchStops: stopping after one operand of many, or with the
// context already cancelled, returns and leaves no goroutine waiting.
func TestPrefetchStops(t *testing.T) {
	resolve, _, path := prefetchTree(t)
	var operands []string
	for i := range 1000 {
		operands = append(operands, fmt.Sprint(i))
	}
	m := &modinfoCmd{}
	p := m.startPrefetch(context.Background(), operands, resolve, files)
	o := p.next()
	require.NotNil(t, o)
	require.NotNil(t, o.take(path("0")))
	p.stop()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m.startPrefetch(ctx, operands, resolve, files).stop()
}

// TestPrefetchOnlyWhenUseful: one operand, or -n (only file names), reads
// nothing ahead.
func TestPrefetchOnlyWhenUseful(t *testing.T) {
	resolve, _, _ := prefetchTree(t)
	assert.Nil(t, (&modinfoCmd{}).startPrefetch(context.Background(), []string{"a"}, resolve, files), "one operand")
	assert.Nil(t, (&modinfoCmd{field: "filename"}).startPrefetch(context.Background(), []string{"a", "b"}, resolve, files), "-n")
}

// TestPrefetchNotForPlainFiles: when the first operand's file is a plain
// module, nothing is read ahead and no other operand resolved: modinfo
// reads each file in place (a few small reads).
func TestPrefetchNotForPlainFiles(t *testing.T) {
	resolve, calls, path := prefetchTreeOf(t, ".ko")
	m := &modinfoCmd{simpleTool: &simpleTool{env: &env{}}}
	p := m.startPrefetch(context.Background(), []string{"x", "y", "z"}, resolve, files)
	require.NotNil(t, p)
	defer p.stop()
	o := p.next()
	require.NotNil(t, o)
	assert.Equal(t, "x", o.arg, "the first operand, resolved")
	assert.Nil(t, o.take(path("x")), "its file not read ahead")
	assert.Nil(t, p.next(), "the others left to the caller")
	assert.Equal(t, int64(1), calls.Load(), "only the first operand resolved")
}

// TestOperandFiles: the files read ahead for an operand are those modinfo
// prints: none after a failed lookup, no builtin module, and with -m only
// the module of that name.
func TestOperandFiles(t *testing.T) {
	o := &operand{arg: "snd-a", mods: []modprobe.Module{
		{Name: "snd_a", Path: "/m/snd_a.ko"},
		{Name: "snd_a", Alias: "snd-a", Path: "/m/alias.ko"},
		{Name: "b", Builtin: true},
	}}
	assert.Equal(t, []string{"/m/snd_a.ko", "/m/alias.ko"}, o.files(false))
	assert.Equal(t, []string{"/m/snd_a.ko"}, o.files(true))
	o.err = modprobe.ErrNotFound
	assert.Empty(t, o.files(false))
}
