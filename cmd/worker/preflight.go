package main

import (
	"fmt"

	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/getopt"
	"github.com/gokmod/modprobe/preflight"
	"github.com/gokmod/modprobe/sign"
)

// runPreflight is gokmod preflight: will these modules load on kernel X?
//
//	gokmod preflight -b BASEDIR -k RELEASE [-E Module.symvers] [-F System.map] [--cert FILE]... MODULE|DIR...
//
// It checks each module (a directory's modules too) against the kernel
// whose module tree is BASEDIR/lib/modules/RELEASE (see package
// preflight) and prints one line per problem, "MODULE: what is wrong"
// naming the symbol or module concerned, on standard output; what the
// target lacks to settle every check (no Module.symvers) goes to standard
// error. It exits 1 when a module will not load (or the check cannot be
// made), 0 when every one will, 2 on a usage error. gokmod preflight
// hands over to this binary (the worker) because --cert needs the X.509
// parser modprobe's process should not link, and gokmod kmm preflight,
// which pulls images, lives here too.
func runPreflight(e *env, argv0 string, args []string) int {
	prog := "gokmod preflight"
	usage := func() int {
		fmt.Fprintf(e.Stderr, "Usage: %s -b BASEDIR -k RELEASE [-E Module.symvers] [-F System.map] [--cert FILE]... MODULE|DIR...\n", prog)
		return 2
	}
	var opts preflight.Options
	var certFiles []string
	p := getopt.New(prog, args, "b:k:E:F:h", []getopt.Option{
		{Name: "basedir", HasArg: getopt.RequiredArgument, Val: 'b'},
		{Name: "kernel", HasArg: getopt.RequiredArgument, Val: 'k'},
		{Name: "symvers", HasArg: getopt.RequiredArgument, Val: 'E'},
		{Name: "filesyms", HasArg: getopt.RequiredArgument, Val: 'F'},
		{Name: "cert", HasArg: getopt.RequiredArgument, Val: optCert},
		{Name: "help", Val: 'h'},
	}, e.Stderr).WithEnv(e.Getenv)
	for c, arg := range p.Options() {
		switch c {
		case 'b':
			opts.Target.BaseDir = arg
		case 'k':
			opts.Target.Release = arg
		case 'E':
			opts.Target.Symvers = arg
		case 'F':
			opts.Target.SystemMap = arg
		case optCert:
			certFiles = append(certFiles, arg)
		case 'h':
			usage()
			return 0
		default:
			return usage()
		}
	}
	ops := p.Operands()
	if opts.Target.BaseDir == "" || opts.Target.Release == "" || len(ops) == 0 {
		return usage()
	}
	return preflightRun(e, prog, opts, certFiles, ops, func(p string) string { return p })
}

// preflightRun checks the modules in paths and prints the problems, each
// module's path as display shows it, returning the exit status; gokmod
// preflight and gokmod kmm preflight share it.
func preflightRun(e *env, prog string, opts preflight.Options, certFiles, paths []string, display func(string) string) int {
	for _, f := range certFiles {
		data, err := fileio.ReadInput(f, signMaxInput)
		if err != nil {
			fmt.Fprintf(e.Stderr, "%s: %v\n", prog, err)
			return 1
		}
		certs, err := sign.ParseCertificates(data)
		if err != nil {
			fmt.Fprintf(e.Stderr, "%s: %s: %v\n", prog, f, err)
			return 1
		}
		opts.Certificates = append(opts.Certificates, certs...)
	}
	rep, err := preflight.Check(e.Ctx, opts, paths...)
	if err != nil {
		fmt.Fprintf(e.Stderr, "%s: %v\n", prog, err)
		return 1
	}
	for _, m := range rep.Missing {
		fmt.Fprintf(e.Stderr, "%s: note: %s\n", prog, m)
	}
	status := 0
	unchecked := 0
	for i := range rep.Verdicts {
		v := &rep.Verdicts[i]
		unchecked += len(v.Unchecked)
		for _, pr := range v.Problems {
			fmt.Fprintf(e.Stdout, "%s: %v\n", display(pr.Module), pr.Err)
			status = 1
		}
	}
	if unchecked > 0 {
		fmt.Fprintf(e.Stderr, "%s: note: %d imports of %d modules unchecked (see the notes above)\n", prog, unchecked, len(rep.Verdicts))
	}
	return status
}
