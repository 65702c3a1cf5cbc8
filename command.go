package modprobe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// CommandError describes a failed install or remove command.
type CommandError struct {
	Kind     string // "install" or "remove"
	Command  string // the command as run, $CMDLINE_OPTS replaced
	ExitCode int    // the exit status, or -1 when the command did not run
	Err      error  // why it did not run, when ExitCode is -1; the context's error when it was stopped
}

// Error returns libkmod's wording.
func (e *CommandError) Error() string {
	if e.ExitCode < 0 {
		return fmt.Sprintf("could not run %s command '%s': %v", e.Kind, e.Command, e.Err)
	}
	return fmt.Sprintf("%s command '%s' exited with status %d", e.Kind, e.Command, e.ExitCode)
}

// Unwrap returns ErrCommandFailed and, for a command that did not run,
// the reason.
func (e *CommandError) Unwrap() []error { return []error{ErrCommandFailed, e.Err} }

// cmdlineOpts is what install and remove commands name the options by.
const cmdlineOpts = "$CMDLINE_OPTS"

// expandCmdlineOpts replaces every $CMDLINE_OPTS in cmd with opts, as
// libkmod does for install commands.
func expandCmdlineOpts(cmd, opts string) string {
	return strings.ReplaceAll(cmd, cmdlineOpts, opts)
}

// runCommand runs cmd through /bin/sh -c, as system(3) does, with
// MODPROBE_MODULE set to the module's name.
func (l *Loader) runCommand(ctx context.Context, kind, module, cmd string) error {
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	c.Args[0] = "sh" // system(3)'s argv[0], which the shell's messages start with
	c.Env = append(os.Environ(), "MODPROBE_MODULE="+module)
	if d := l.denyEnv(); d != "" {
		if v, ok := os.LookupEnv(DenyEnv); ok && v != "" {
			d += "," + v // what the process was told to deny too
		}
		c.Env = append(c.Env, d) // after the inherited one, which it replaces
	}
	c.Stdout, c.Stderr = l.stdout, l.stderr
	stopOnCancel(c)
	err := c.Run()
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		if code < 0 { // killed by a signal: system(3)'s WEXITSTATUS is 0
			if ctx.Err() != nil {
				return &CommandError{Kind: kind, Command: cmd, ExitCode: -1, Err: ctx.Err()}
			}
			return nil
		}
		// A command that exits after the cancellation's SIGTERM (its
		// trap) failed because of it: Err says so.
		return &CommandError{Kind: kind, Command: cmd, ExitCode: code, Err: ctx.Err()}
	}
	return &CommandError{Kind: kind, Command: cmd, ExitCode: -1, Err: err}
}
