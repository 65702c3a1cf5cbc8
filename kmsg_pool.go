package modprobe

import (
	"sync"

	"github.com/gokmod/modprobe/internal/kernel"
)

// kernelLogs keeps the kernel log descriptors a Loader's load runs (the
// log a run reads for its errors) and offers of compressed files (see
// offerCompressed) have finished with, so that the next one moves a
// descriptor to the log's end (one lseek) instead of opening and closing
// /dev/kmsg again: gokmod's modprobe -a makes a run for every name, and
// every module of Debian 13 is an offer. Those are system calls between
// two finit_module calls, where the time outside the kernel is what a
// load can save. Users that overlap take descriptors of their own, so
// each reads from its own position. Loader.Close closes them; a Loader
// that loaded keeps one or a few open until then.
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
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		k.Close()
		return
	}
	p.idle = append(p.idle, k)
}

// close closes the descriptors kept; put closes any given back later.
func (p *kernelLogs) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range p.idle {
		k.Close()
	}
	p.idle = nil
	p.closed = true
}
