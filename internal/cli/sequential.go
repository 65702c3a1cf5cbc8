package cli

import "runtime"

// LoadsOneAtATime tells the process that the tool now loads modules one
// after the other, each with a raw finit_module (see toolKernel): the Go
// scheduler keeps one processor from then on (GOMAXPROCS 1). A module
// load of more than 10 ms (most of a stack's under the emulator) leaves
// the loading goroutine with the runtime's preemption request pending,
// which it honours as soon as the call returns; with a second, idle
// processor that yield wakes another thread to take the goroutine over,
// a thread wake-up across CPUs between two modules, on the critical
// path. With one processor the goroutine goes on where it was. In the
// VM (Debian 12, the 35-module stack, 4 iterations, host load 8-10) the
// time between two finit_module calls went from 261 to 96 ms a stack
// (kmod's: 110 ms). The price: nothing else in the process runs while a
// module loads, not even the goroutine that handles SIGTERM and SIGINT,
// so a signal that comes during a module's init is acted on when the
// init returns (the module in flight goes in, as it does with two
// processors, and nothing after it starts); StopGrace does not cut a
// module's init short. It does nothing in an Env a test made.
func (e *Env) LoadsOneAtATime() {
	if e.tuned {
		runtime.GOMAXPROCS(1)
	}
}
