package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/gokmod/modprobe/internal/cscan"
	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/getopt"
	"github.com/gokmod/modprobe/internal/kmodlog"
)

// kmod static-nodes turns the running kernel's modules.devname into device
// nodes to create at boot: systemd's kmod-static-nodes.service runs
// "kmod static-nodes --format=tmpfiles --output=/run/tmpfiles.d/static-nodes.conf"
// so that opening /dev/fuse, /dev/loop-control, ... loads the module. kmod
// 30 and 34 behave the same.

// staticNodesFormat is an output format of static-nodes.
type staticNodesFormat struct {
	name, description string
	write             func(w io.Writer, n staticNode)
}

// staticNode is one entry of modules.devname.
type staticNode struct {
	module, devname string
	typ             byte // 'c' or 'b'
	major, minor    uint32
}

func staticNodesFormats() []staticNodesFormat {
	return []staticNodesFormat{
		{"human", "(default) a human readable format. Do not parse.", func(w io.Writer, n staticNode) {
			kind := "block"
			if n.typ == 'c' {
				kind = "character"
			}
			fmt.Fprintf(w, "Module: %s\n\tDevice node: /dev/%s\n\t\tType: %s device\n\t\tMajor: %d\n\t\tMinor: %d\n", n.module, n.devname, kind, n.major, n.minor)
		}},
		{"tmpfiles", "the tmpfiles.d(5) format used by systemd-tmpfiles.", func(w io.Writer, n staticNode) {
			if dir, _, ok := cutLast(n.devname, "/"); ok {
				fmt.Fprintf(w, "d /dev/%s 0755 - - -\n", dir)
			}
			fmt.Fprintf(w, "%c! /dev/%s 0600 - - - %d:%d\n", n.typ, n.devname, n.major, n.minor)
		}},
		{"devname", "the modules.devname format.", func(w io.Writer, n staticNode) {
			fmt.Fprintf(w, "%s %s %c%d:%d\n", n.module, n.devname, n.typ, n.major, n.minor)
		}},
	}
}

// cutLast is strings.Cut at the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// pathMax is PATH_MAX, the size of kmod's path and line buffers.
const pathMax = 4096

// maxDevnameSize bounds the modules.devname static-nodes reads (Debian's
// holds 17 lines).
const maxDevnameSize = 16 << 20

// runStaticNodes is kmod static-nodes for the running kernel, whose
// modules.devname is under /lib/modules.
func runStaticNodes(e *env, argv0 string, args []string) int {
	return staticNodes(e, argv0, args, "/lib/modules")
}

// staticNodes is kmod static-nodes reading modulesDir/RELEASE/modules.devname.
func staticNodes(e *env, argv0 string, args []string, modulesDir string) (status int) {
	t := newSimpleTool(e, "kmod")
	defer t.finish(&status)
	formats := staticNodesFormats()
	format := formats[0]
	output := ""
	p := getopt.New(argv0, args, "o:f:h", []getopt.Option{
		{Name: "output", HasArg: getopt.RequiredArgument, Val: 'o'},
		{Name: "format", HasArg: getopt.RequiredArgument, Val: 'f'},
		{Name: "help", Val: 'h'},
	}, e.Stderr)
	for c, arg := range p.Options() {
		switch c {
		case 'o':
			output = arg
		case 'f':
			valid := false
			for _, f := range formats {
				if f.name == arg {
					format, valid = f, true
				}
			}
			if !valid {
				fmt.Fprintf(e.Stderr, "Unknown format: '%s'.\n", arg)
				staticNodesHelp(t.out, formats)
				return 1
			}
		case 'h':
			staticNodesHelp(t.out, formats)
			return 0
		default: // '?': getopt has complained
			return 1
		}
	}
	release, err := releaseOf(e)
	if err != nil {
		fmt.Fprintf(e.Stderr, "Error: uname failed!\n")
		return 1
	}
	path := modulesDir + "/" + release + "/modules.devname"
	if len(path) >= pathMax {
		fmt.Fprintf(e.Stderr, "Error: could not open %s - path too long\n", path)
		return 1
	}
	// Read before the output is made: without modules.devname there is no
	// output file at all. A FIFO is refused rather than waited on.
	data, err := fileio.ReadInput(path, maxDevnameSize)
	switch {
	case errors.Is(err, syscall.EISDIR):
		// kmod opens a directory and reads nothing from it.
		data = nil
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(e.Stderr, "Warning: %s not found - ignoring\n", path)
		return 0
	case err != nil:
		fmt.Fprintf(e.Stderr, "Error: could not open %s - %s\n", path, pathStrerror(err))
		return 1
	}
	var w *bufio.Writer
	if output == "" {
		w = t.out.Writer
	} else {
		// The file is written whole: a signal from here on ends the
		// process after it (see cli's signals.go).
		e.Watch()
		f, err := createOutput(output)
		if err != nil {
			var me *fileio.MkdirError
			if errors.As(err, &me) {
				// kmod prints %m, which is not always the reason.
				fmt.Fprintf(e.Stderr, "Error: could not create parent directory for %s - %s.\n", output, kmodlog.Strerror(me.Shown))
			} else {
				fmt.Fprintf(e.Stderr, "Error: could not create %s - %s\n", output, pathStrerror(err))
			}
			return 1
		}
		// As kmod, a failed write or close changes nothing.
		defer f.Close()
		w = bufio.NewWriter(f)
		defer w.Flush()
	}
	for _, line := range cscan.Lines(data, pathMax) {
		if line[0] == '#' {
			continue
		}
		text := cscan.CString(string(line))
		n, ok := parseDevnameLine(text)
		if !ok {
			fmt.Fprintf(e.Stderr, "Error: invalid devname entry: %s", text)
			status = 1
			continue
		}
		format.write(w, n)
	}
	return status
}

// parseDevnameLine is sscanf(line, "%s %s %c%u:%u") == 5 with a 'c' or
// 'b' type.
func parseDevnameLine(line string) (staticNode, bool) {
	var n staticNode
	var ok bool
	if n.module, line, ok = cscan.Word(line); !ok {
		return n, false
	}
	if n.devname, line, ok = cscan.Word(line); !ok {
		return n, false
	}
	line = cscan.SkipSpace(line)
	if line == "" || (line[0] != 'c' && line[0] != 'b') {
		return n, false
	}
	n.typ = line[0]
	if n.major, line, ok = cscan.Uint(line[1:]); !ok || !strings.HasPrefix(line, ":") {
		return n, false
	}
	n.minor, _, ok = cscan.Uint(line[1:])
	return n, ok
}

// createOutput makes the parent directories of path (mode 0755) and
// creates or truncates path, as kmod's mkdir_parents and fopen(path,
// "we") do; a failure to make a directory is a *fileio.MkdirError. A
// FIFO without a reader is ENXIO instead of a wait.
func createOutput(path string) (*os.File, error) {
	if dir, _, ok := cutLast(path, "/"); ok && dir != "" {
		if err := fileio.MkdirP(dir, 0o755); err != nil {
			return nil, err
		}
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NONBLOCK, 0o666)
}

// pathStrerror is strerror(3) of the errno in err; an error without one
// (a FIFO refused, a file over its bound) is told in gokmod's words.
func pathStrerror(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return kmodlog.Strerror(err)
}

func staticNodesHelp(w *outWriter, formats []staticNodesFormat) {
	fmt.Fprintf(w, "Usage:\n"+
		"\tkmod static-nodes [options]\n\n"+
		"kmod static-nodes outputs the static-node information of the currently running kernel.\n\n"+
		"Options:\n"+
		"\t-f, --format=FORMAT  choose format to use: see \"Formats\"\n"+
		"\t-o, --output=FILE    write output to file\n"+
		"\t-h, --help           show this help\n\n"+
		"Formats:\n")
	for _, f := range formats {
		fmt.Fprintf(w, "\t%-12s %s\n", f.name, f.description)
	}
}
