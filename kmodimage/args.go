package kmodimage

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/getopt"
	"github.com/gokmod/modprobe/internal/modprobeopt"
)

// Invocation is a modprobe argument list (KMM's args or rawArgs) read
// into what a Loader needs: the options, and the modules.
type Invocation struct {
	// Remove is -r; All is -a.
	Remove, All bool
	// Root is -d (RootSet tells an empty -d from none); KernelRelease is
	// -S; ConfigPaths are the -C options.
	Root          string
	RootSet       bool
	KernelRelease string
	ConfigPaths   []string
	// Verbose counts -v; Quiet is -q.
	Verbose int
	Quiet   bool
	// Load and Remove hold the options of a load and of a removal
	// (-i, -b, -f, --force-*, --first-time, -n, --remove-holders, -w).
	Load       modprobe.LoadOptions
	RemoveOpts modprobe.RemoveOptions
	// Operands are the arguments that are not options: for a load
	// without -a, the module and its parameters; otherwise modules.
	Operands []string
}

// ErrUnsupportedFlag: a modprobe option that asks for something other
// than a load or a removal (-D, -R, -c, --show-*, -s, -V, -h).
var ErrUnsupportedFlag = errors.New("modprobe option not supported here")

// ErrBadArgs: a modprobe argument list that modprobe itself would refuse.
var ErrBadArgs = errors.New("invalid modprobe arguments")

// ParseArgs reads a modprobe argument list with modprobe's own option
// parsing (getopt_long, options and operands in any order). Options that
// do not load or remove modules are errors wrapping ErrUnsupportedFlag;
// an unknown option or a missing argument, errors wrapping ErrBadArgs with
// getopt's message, as is an argument holding a NUL byte, which an exec'd
// modprobe could not receive.
func ParseArgs(argv []string) (Invocation, error) {
	for i, a := range argv {
		// getopt would read the argument up to the NUL, as C does; but
		// no exec'd modprobe can receive it, so KMM's worker fails.
		if strings.IndexByte(a, 0) >= 0 {
			return Invocation{}, fmt.Errorf("%w: argument %d %q holds a NUL byte", ErrBadArgs, i, a)
		}
	}
	var inv Invocation
	var msg bytes.Buffer
	p := getopt.New("modprobe", argv, modprobeopt.Short, modprobeopt.Long(), &msg)
	for c, arg := range p.Options() {
		switch c {
		case 'a':
			inv.All = true
		case 'r':
			inv.Remove = true
		case 'd':
			inv.Root, inv.RootSet = arg, true
		case 'S':
			inv.KernelRelease = arg
		case 'C':
			inv.ConfigPaths = append(inv.ConfigPaths, arg)
		case 'v':
			inv.Verbose++
		case 'q':
			inv.Quiet = true
		case 'i':
			inv.Load.IgnoreCommands, inv.RemoveOpts.IgnoreCommands = true, true
		case 'b':
			inv.Load.UseBlacklist = true
		case 'f':
			inv.Load.ForceVermagic, inv.Load.ForceModversion, inv.RemoveOpts.Force = true, true, true
		case modprobeopt.ForceVermagic:
			inv.Load.ForceVermagic = true
		case modprobeopt.ForceModversion:
			inv.Load.ForceModversion = true
		case modprobeopt.FirstTime:
			inv.Load.FirstTime, inv.RemoveOpts.FirstTime = true, true
		case 'n':
			inv.Load.DryRun, inv.RemoveOpts.DryRun = true, true
		case modprobeopt.RemoveHolders:
			inv.RemoveOpts.RemoveHolders = true
		case 'w':
			ms, err := strconv.ParseUint(arg, 10, 63)
			if err != nil {
				return Invocation{}, fmt.Errorf("%w: unexpected wait value %q", ErrBadArgs, arg)
			}
			inv.RemoveOpts.Wait = time.Duration(min(ms, uint64(1<<62)/uint64(time.Millisecond))) * time.Millisecond
		case '?':
			return Invocation{}, fmt.Errorf("%w: %s", ErrBadArgs, strings.TrimSpace(msg.String()))
		default:
			return Invocation{}, fmt.Errorf("%w: %s", ErrUnsupportedFlag, optionName(c))
		}
	}
	inv.Operands = p.Operands()
	return inv, nil
}

// optionName names the option whose code is c.
func optionName(c int) string {
	for _, o := range modprobeopt.Long() {
		if o.Val == c && (c < 'A' || !strings.ContainsRune(modprobeopt.Short, rune(c))) {
			return "--" + o.Name
		}
	}
	return "-" + string(rune(c))
}
