package modprobe_test

import (
	"context"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/modprobetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestShowCallsNeverOverlap: with Jobs above 1 the Show callback is
// called from one goroutine at a time, so a callback that appends to a
// slice without a lock is safe (go test -race fails here otherwise), and
// it sees every action once.
func TestShowCallsNeverOverlap(t *testing.T) {
	lt := newLoadTree(t, wideTree(), nil)
	l := lt.open(t, modprobe.Options{})
	var shown []string
	inShow := 0
	err := l.LoadAllWith(context.Background(), wideNames(0, 24), modprobe.LoadOptions{
		Jobs: 8,
		Show: func(a modprobe.Action) {
			inShow++
			if inShow != 1 {
				t.Errorf("Show entered while another call runs (%d at once)", inShow)
			}
			runtime.Gosched()
			shown = append(shown, a.Module)
			inShow--
		},
	})
	require.NoError(t, err)
	assert.Len(t, shown, 25, "Show calls: one for each of the 24 modules and their base")
	checkOnce(t, lt)
}

// TestWaiterKeepsItsDeadline: a caller that finds another caller inserting
// the same module waits for it only as long as its own context lets it,
// and says that it stopped waiting instead of claiming the module is in.
func TestWaiterKeepsItsDeadline(t *testing.T) {
	lt := newLoadTree(t, map[string]string{"modules.dep": "kernel/slow.ko:\n"}, nil)
	l := lt.open(t, modprobe.Options{})
	release := make(chan struct{})
	started := make(chan struct{})
	lt.K.OnInsert(func(in modprobetest.Insert) error {
		close(started)
		<-release
		return nil
	})
	first := make(chan error, 1)
	go func() { first <- l.Load(context.Background(), "slow") }()
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	second := make(chan error, 1)
	go func() { second <- l.Load(ctx, "slow") }()
	select {
	case err := <-second:
		assert.ErrorIs(t, err, context.DeadlineExceeded, "the waiting caller's error")
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting caller did not return when its deadline passed")
	}
	close(release)
	assert.NoError(t, <-first, "the inserting caller")
	assert.Equal(t, []string{"slow"}, lt.K.Inserted(), "inserts")
}

// mapsOf counts the mappings of files under dir in /proc/self/maps.
func mapsOf(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), dir)
}

// TestDroppedLoaderUnmapsIndexes: Loaders that are never closed release
// their index mappings once the collector finds them unreachable; Close
// releases them at once (and the cleanup does not close them again).
func TestDroppedLoaderUnmapsIndexes(t *testing.T) {
	root, release := testmod.DebianTree(t)
	moddir := testmod.ModuleDir(root, release)
	before := mapsOf(t, moddir)
	func() {
		for range 50 {
			l, err := modprobe.Open(modprobe.Options{ModuleDir: moddir, ConfigPaths: []string{}})
			require.NoError(t, err)
			_, err = l.Lookup(context.Background(), "ext4")
			require.NoError(t, err)
		}
	}()
	if n := mapsOf(t, moddir); n < before+50 {
		t.Fatalf("%d index mappings with 50 Loaders open, want at least %d: the test cannot see them", n, before+50)
	}
	deadline := time.Now().Add(20 * time.Second)
	for mapsOf(t, moddir) > before && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	assert.Equal(t, before, mapsOf(t, moddir), "index mappings left after the Loaders were dropped")

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			l, err := modprobe.Open(modprobe.Options{ModuleDir: moddir, ConfigPaths: []string{}})
			if !assert.NoError(t, err) {
				return
			}
			_, err = l.Lookup(context.Background(), "ext4")
			assert.NoError(t, err)
			assert.NoError(t, l.Close())
		})
	}
	wg.Wait()
	assert.Equal(t, before, mapsOf(t, moddir), "index mappings left after Close")
	runtime.GC()
	runtime.GC()
}

// TestLoaderDroppedDuringCall: a Loader the caller drops while one of its
// calls runs stays mapped until the call returns (the cleanup must not
// unmap indexes a call is still reading: a fault would end the test
// binary).
func TestLoaderDroppedDuringCall(t *testing.T) {
	root, release := testmod.DebianTree(t)
	moddir := testmod.ModuleDir(root, release)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	for range 40 {
		open := func() *modprobe.Loader {
			l, err := modprobe.Open(modprobe.Options{ModuleDir: moddir, ConfigPaths: []string{}})
			require.NoError(t, err)
			return l
		}
		require.NoError(t, open().WriteConfig(context.Background(), io.Discard))
		_, err := open().Lookup(context.Background(), "ext4")
		require.NoError(t, err)
	}
}
