package modprobe

import (
	"errors"
	"sync"
	"syscall"
)

// compressedOffers tracks a Loader's finit_module calls with
// InitCompressedFile, so that a decompression failure the kernel logs
// during one of them is not taken for another's: the kernel's line does
// not name the module or the caller.
type compressedOffers struct {
	mu       sync.Mutex
	inFlight map[*compressedOffer]struct{}
}

// compressedOffer is one finit_module call with InitCompressedFile.
type compressedOffer struct {
	others []*compressedOffer // the offers in flight at some time during this one
	done   bool
	einval bool // it ended with EINVAL: it may have logged a failure line
}

// begin records an offer about to be made.
func (s *compressedOffers) begin() *compressedOffer {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := &compressedOffer{}
	for p := range s.inFlight {
		p.others = append(p.others, o)
		o.others = append(o.others, p)
	}
	if s.inFlight == nil {
		s.inFlight = map[*compressedOffer]struct{}{}
	}
	s.inFlight[o] = struct{}{}
	return o
}

// end records the kernel's answer to offer o and returns how many other
// offers could have logged a decompression failure while o was in
// flight: those that overlapped it and are still in flight or ended with
// EINVAL. One that ended otherwise did not: the kernel answers every
// decompression failure it logs with EINVAL.
func (s *compressedOffers) end(o *compressedOffer, err error) (rivals int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o.done = true
	o.einval = errors.Is(err, syscall.EINVAL)
	delete(s.inFlight, o)
	for _, p := range o.others {
		if !p.done || p.einval {
			rivals++
		}
	}
	o.others = nil // no chain of finished offers stays reachable
	return rivals
}
