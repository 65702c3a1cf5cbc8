package modprobe

import (
	"context"
	"sync"
)

// flights makes concurrent inserts of one module into one: the first
// caller inserts, the others wait for its result. Once a flight ends the
// module's state is in sysfs for later callers to see.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done chan struct{}
	err  error
}

// do runs fn for key unless a run for key is in progress, in which case
// it waits for that run, or for ctx to end, whichever comes first. shared
// reports that another caller's run was waited for; err is that run's
// result, or ctx's error when ctx ended first (the other run goes on).
func (fs *flights) do(ctx context.Context, key string, fn func() error) (err error, shared bool) {
	fs.mu.Lock()
	if f, ok := fs.m[key]; ok {
		fs.mu.Unlock()
		select {
		case <-f.done:
			return f.err, true
		case <-ctx.Done():
			return ctx.Err(), true
		}
	}
	if fs.m == nil {
		fs.m = make(map[string]*flight)
	}
	f := &flight{done: make(chan struct{})}
	fs.m[key] = f
	fs.mu.Unlock()

	defer func() {
		fs.mu.Lock()
		delete(fs.m, key)
		fs.mu.Unlock()
		close(f.done)
	}()
	f.err = fn()
	return f.err, false
}
