package modprobe

import (
	"sync"

	"github.com/gokmod/modprobe/internal/kernel"
)

// kernelLogs keeps the kernel log descriptors a load run's offers of
// compressed files have finished with (see offerCompressed), so that the
// next offer moves one to the log's end (one lseek) instead of opening
// and closing /dev/kmsg around every module (two system calls more
// between two finit_module calls, where the time outside the kernel is
// what a load can save). An offer that overlaps another takes a
// descriptor of its own, so each reads from its own position. The run
// closes them when it ends. A nil *kernelLogs opens a new descriptor for
// each offer.
type kernelLogs struct {
	mu     sync.Mutex
	idle   []*kernel.Kmsg
	closed bool // put closes what it is given
}

// take returns the kernel log at path positioned after its last record.
func (p *kernelLogs) take(path string) (*kernel.Kmsg, error) {
	if k := p.pop(); k != nil {
		if err := k.SeekEnd(); err == nil {
			return k, nil
		}
		k.Close()
	}
	return kernel.OpenKmsg(path)
}

func (p *kernelLogs) pop() *kernel.Kmsg {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	k := p.idle[n-1]
	p.idle = p.idle[:n-1]
	return k
}

// put gives back a descriptor take returned.
func (p *kernelLogs) put(k *kernel.Kmsg) {
	if p == nil {
		k.Close()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		k.Close()
		return
	}
	p.idle = append(p.idle, k)
}

// close closes the descriptors kept.
func (p *kernelLogs) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range p.idle {
		k.Close()
	}
	p.idle = nil
	p.closed = true
}
