package main

import (
	"fmt"
	"path/filepath"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/getopt"
)

// kmodCommand is one of kmod's own commands: kmod NAME ARGS.
type kmodCommand struct {
	name string
	run  func(e *env, argv0 string, args []string) int
	// help is the command's line in kmod's help, by release.
	help30, help34 string
}

func kmodCommands() []kmodCommand {
	return []kmodCommand{
		{"help", nil, "Show help message", "show help message"},
		{"list", runLsmod, "list currently loaded modules", "list currently loaded modules"},
		{"static-nodes", runStaticNodes,
			"outputs the static-node information installed with the currently running kernel",
			"output the static-node information installed with the currently running kernel"},
	}
}

// kmodCompatNames are the tools kmod's help says it is when called
// through a link of that name.
func kmodCompatNames() []string {
	return []string{"lsmod", "rmmod", "insmod", "modinfo", "modprobe", "depmod"}
}

// runKmodTool is the kmod tool itself: kmod [-h|-V] COMMAND [ARGS], with the
// commands help, list (lsmod) and static-nodes.
func runKmodTool(e *env, argv0 string, args []string) (status int) {
	t := newSimpleTool(e, "kmod")
	defer t.finish(&status)
	compat, err := compatFromEnv(e)
	if err != nil {
		t.log.printf(logErr, "%v\n", err)
		return 1
	}
	prog := filepath.Base(argv0)
	p := getopt.New(argv0, args, "+hV", []getopt.Option{
		{Name: "help", Val: 'h'},
		{Name: "version", Val: 'V'},
	}, e.Stderr)
	for c := range p.Options() {
		switch c {
		case 'h':
			kmodHelp(t.out, compat, prog)
			return 0
		case 'V':
			fmt.Fprint(t.out, versionText(compat))
			return 0
		default: // '?': getopt has complained
			return 1
		}
	}
	operands := p.Operands()
	if len(operands) == 0 {
		fmt.Fprintf(e.Stderr, "missing command\n")
		kmodHelp(t.out, compat, prog)
		return 1
	}
	name := operands[0]
	// kmod 34 hands the command the arguments from its name on; kmod 30
	// drops its own first argument only, so that after "--" the command
	// sees "--" as its name.
	cmdArgv0, cmdArgs := name, operands[1:]
	if compat == modprobe.CompatKmod30 {
		cmdArgv0, cmdArgs = args[0], args[1:]
	}
	for _, c := range kmodCommands() {
		if c.name != name {
			continue
		}
		if c.run == nil { // help
			if compat == modprobe.CompatKmod30 {
				prog = filepath.Base(cmdArgv0)
			}
			kmodHelp(t.out, compat, prog)
			return 0
		}
		return c.run(e, cmdArgv0, cmdArgs)
	}
	fmt.Fprintf(e.Stderr, "invalid command '%s'\n", name)
	kmodHelp(t.out, compat, prog)
	return 1
}

// kmodHelp prints kmod's help, naming the tool prog.
func kmodHelp(w *outWriter, c modprobe.Compat, prog string) {
	fmt.Fprintf(w, "kmod - Manage kernel modules: list, load, unload, etc\n"+
		"Usage:\n"+
		"\t%s [options] command [command_options]\n\n"+
		"Options:\n"+
		"\t-V, --version     show version\n"+
		"\t-h, --help        show this help\n\n"+
		"Commands:\n", prog)
	for _, cmd := range kmodCommands() {
		help := cmd.help34
		if c == modprobe.CompatKmod30 {
			help = cmd.help30
		}
		fmt.Fprintf(w, "  %-12s %s\n", cmd.name, help)
	}
	fmt.Fprintf(w, "\nkmod also handles gracefully if called from following symlinks:\n")
	for _, name := range kmodCompatNames() {
		fmt.Fprintf(w, "  %-12s compat %s command\n", name, name)
	}
}
