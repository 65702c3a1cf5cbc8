package main

import (
	"context"
	"runtime"
	"sync"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/elfmod"
	"github.com/gokmod/modprobe/internal/modfile"
)

// modinfo prints module after module, in the operands' order, as kmod
// does; what takes the time is reading each file's .modinfo, which for a
// compressed module means decompressing it. The prefetcher reads the
// files modinfo is about to print on other goroutines, a bounded window
// ahead, so that a run over many compressed modules uses every CPU; all
// printing, and every message, stays on the main goroutine in kmod's
// order.

// infoFuture is the .modinfo of one module file, read in the background.
type infoFuture struct {
	path string
	done chan struct{}
	info []elfmod.KeyValue
	err  error
}

// prefetcher reads ahead the module files the operands name.
type prefetcher struct {
	queue  chan *infoFuture // futures in the order modinfo will ask for them
	head   *infoFuture      // taken from queue, not yet asked for
	closed bool             // queue is closed and drained
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// prefetchWindow is how many files a worker may be ahead of the printing,
// per worker: each future holds only a module's entries once read.
const prefetchWindow = 4

// startPrefetch reads ahead the files of operands, resolved as run does
// (paths() gives the files an operand prints, in order). It returns nil
// when there is nothing to gain: a single operand, or only file names
// printed.
func (m *modinfoCmd) startPrefetch(ctx context.Context, operands []string, paths func(string) []string) *prefetcher {
	if len(operands) < 2 || m.field == "filename" {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	workers := runtime.GOMAXPROCS(0)
	p := &prefetcher{queue: make(chan *infoFuture, workers*prefetchWindow), cancel: cancel}
	jobs := make(chan *infoFuture)
	for range workers {
		p.wg.Go(func() {
			var out modfile.Buffer // each worker decompresses into its own
			defer out.Release()
			for f := range jobs {
				f.info, f.err = readModinfo(f.path, &out)
				close(f.done)
			}
		})
	}
	p.wg.Go(func() {
		defer close(p.queue)
		defer close(jobs)
		for _, arg := range operands {
			for _, path := range paths(arg) {
				f := &infoFuture{path: path, done: make(chan struct{})}
				select {
				case jobs <- f:
				case <-ctx.Done():
					return
				}
				select {
				case p.queue <- f:
				case <-ctx.Done():
					<-f.done
					return
				}
			}
		}
	})
	return p
}

// take returns the file read ahead for path, once read, when the next
// file read ahead is path; nil otherwise (the tree changed under modinfo,
// say), and the caller reads the file itself.
func (p *prefetcher) take(path string) *infoFuture {
	if p == nil {
		return nil
	}
	if p.head == nil && !p.closed {
		f, more := <-p.queue
		p.head, p.closed = f, !more
	}
	f := p.head
	if f == nil || f.path != path {
		return nil
	}
	p.head = nil
	<-f.done
	return f
}

// stop ends the reading ahead and waits for its goroutines.
func (p *prefetcher) stop() {
	if p == nil {
		return
	}
	p.cancel()
	for range p.queue {
		// Drain: the producer may be waiting to queue a future.
	}
	p.wg.Wait()
}

// readModinfo is kmod_module_get_info for a module file: its .modinfo
// entries and its signature fields. A compressed file is decompressed
// into out (nil allocates).
func readModinfo(path string, out *modfile.Buffer) ([]elfmod.KeyValue, error) {
	image, release, err := out.Map(path, modprobe.DefaultMaxModuleSize)
	if err != nil {
		return nil, err
	}
	defer release()
	elf, err := elfmod.Parse(image)
	if err != nil {
		return nil, err
	}
	info, err := elf.Modinfo()
	if err != nil {
		return nil, err
	}
	if sig, ok := elfmod.ParseSignature(image); ok {
		info = append(info, sig.Info()...)
	}
	return info, nil
}
