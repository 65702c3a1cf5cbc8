package modprobe

import (
	"os/exec"
	"syscall"
	"time"
)

// commandGrace is how long an install or remove command has to end once
// the load or removal running it is cancelled and it has been sent
// SIGTERM; after that it is killed (SIGKILL), and the pipes to its output
// are closed even when a process it started still holds them.
const commandGrace = 3 * time.Second

// stopOnCancel makes c, a command run with exec.CommandContext, end
// gently when its context is cancelled: SIGTERM to the shell first (its
// trap, if any, runs), SIGKILL after commandGrace. Processes the command
// started itself and left running are its own, as they are when kmod's
// modprobe, which has no handler, is killed during system(3).
func stopOnCancel(c *exec.Cmd) {
	c.Cancel = func() error { return c.Process.Signal(syscall.SIGTERM) }
	c.WaitDelay = commandGrace
}
