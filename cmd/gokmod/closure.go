package main

import (
	"encoding/json"
	"fmt"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/closure"
	"github.com/gokmod/modprobe/internal/cli"
	"github.com/gokmod/modprobe/internal/getopt"
)

const closureUsage = `Usage: %s [options] NAME...
Print every file an initramfs needs to load NAME...: the module files
modprobe would insert (dependencies and softdeps), weak dependencies,
and the firmware files the modules name, one path per line.

Options:
	-d, --dirname=DIR        root the module tree is under (as modprobe -d)
	-S, --set-version=REL    kernel release (as modprobe -S)
	-C, --config=FILE        modprobe.d file or directory (as modprobe -C)
	-F, --firmware-path=DIR  search DIR for firmware before the kernel's
	                         directories (as firmware_class.path=)
	    --json               print the whole closure as JSON
	-h, --help               show this help
`

// optJSON is --json's getopt value.
const optJSON = 1000

// closureJSON is --json's output.
type closureJSON struct {
	Files           []closureFileJSON         `json:"files"`
	Builtin         []string                  `json:"builtin"`
	Commands        []closure.Command         `json:"install_commands"`
	Blacklisted     []string                  `json:"blacklisted"`
	NoFile          []string                  `json:"no_file"`
	MissingFirmware []closure.MissingFirmware `json:"missing_firmware"`
	BadFirmware     []closure.MissingFirmware `json:"bad_firmware"`
}

// closureFileJSON is one file of --json's output.
type closureFileJSON struct {
	Path     string `json:"path"`
	Reason   string `json:"reason"`
	Module   string `json:"module"`
	Firmware string `json:"firmware,omitempty"`
}

// runClosure is gokmod closure: the files an image builder ships for a
// set of module names (package closure).
func runClosure(e *env, argv0 string, args []string) int {
	m := newModprobeCmd(e, argv0)
	return m.run(func(m *modprobeCmd) int {
		m.log = newToolLog("closure", e.Stderr)
		var (
			opts   modprobe.Options
			fwPath string
			asJSON bool
		)
		p := getopt.New(argv0, args, "d:S:C:F:h", []getopt.Option{
			{Name: "dirname", HasArg: getopt.RequiredArgument, Val: 'd'},
			{Name: "set-version", HasArg: getopt.RequiredArgument, Val: 'S'},
			{Name: "config", HasArg: getopt.RequiredArgument, Val: 'C'},
			{Name: "firmware-path", HasArg: getopt.RequiredArgument, Val: 'F'},
			{Name: "json", Val: optJSON},
			{Name: "help", Val: 'h'},
		}, e.Stderr)
		for c, arg := range p.Options() {
			switch c {
			case 'd':
				opts.RootDir = arg
			case 'S':
				opts.KernelRelease = arg
			case 'C':
				opts.ConfigPaths = append(opts.ConfigPaths, arg)
			case 'F':
				fwPath = arg
			case optJSON:
				asJSON = true
			case 'h':
				fmt.Fprintf(m.out, closureUsage, cli.UsageName(argv0, "closure"))
				return 0
			default:
				return 1
			}
		}
		names := p.Operands()
		if len(names) == 0 {
			fmt.Fprintf(e.Stderr, "closure: no module names given. See -h.\n")
			return 1
		}
		compat, err := compatFromEnv(e)
		if err != nil {
			fmt.Fprintf(e.Stderr, "closure: %v\n", err)
			return 1
		}
		m.compat = compat
		l, err := m.openLoader(opts)
		if err != nil {
			fmt.Fprintf(e.Stderr, "closure: %v\n", err)
			return 1
		}
		defer l.Close()
		res, err := closure.Compute(e.LookupContext(), l, names, closure.Options{FirmwareClassPath: fwPath})
		if err != nil {
			fmt.Fprintf(e.Stderr, "closure: %v\n", err)
			return 1
		}
		if asJSON {
			return writeClosureJSON(m, res)
		}
		for _, f := range res.Files {
			fmt.Fprintf(m.out, "%s\n", f.Path)
		}
		return 0
	})
}

// writeClosureJSON prints res as --json does.
func writeClosureJSON(m *modprobeCmd, res *closure.Result) int {
	out := closureJSON{
		Files:   []closureFileJSON{},
		Builtin: nonNil(res.Builtin), Commands: nonNil(res.Commands), Blacklisted: nonNil(res.Blacklisted), NoFile: nonNil(res.NoFile),
		MissingFirmware: nonNil(res.MissingFirmware), BadFirmware: nonNil(res.BadFirmware),
	}
	for _, f := range res.Files {
		out.Files = append(out.Files, closureFileJSON{f.Path, f.Reason.String(), f.Module, f.Firmware})
	}
	enc := json.NewEncoder(m.out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return 1
	}
	return 0
}

// nonNil returns s, or an empty slice for nil: JSON's [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
