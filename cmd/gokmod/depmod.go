package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/depmod"
	"github.com/gokmod/modprobe/internal/getopt"
)

// depmod's short options, as kmod 30 defines them with gokmod's -o, and
// as kmod 34 does: -m and -o take directories, the deprecated options
// are gone.
const (
	depmodShort30 = "aAb:C:E:F:euqrvnP:wmVho:"
	depmodShort34 = "aAb:m:o:C:E:F:evnP:wVh"
)

// depmodLong returns depmod's long options as kmod 30 defines them, with
// gokmod's --output-dir, or as kmod 34 does, each in the release's order
// (getopt lists an ambiguous abbreviation's candidates in that order).
func depmodLong(kmod30 bool) []getopt.Option {
	release := 34
	if kmod30 {
		release = 30
	}
	var opts []getopt.Option
	for _, o := range []struct {
		only int // the one release that has the option; 0 for both
		opt  getopt.Option
	}{
		{0, getopt.Option{Name: "all", Val: 'a'}},
		{0, getopt.Option{Name: "quick", Val: 'A'}},
		{0, getopt.Option{Name: "basedir", HasArg: getopt.RequiredArgument, Val: 'b'}},
		{34, getopt.Option{Name: "moduledir", HasArg: getopt.RequiredArgument, Val: 'm'}},
		{34, getopt.Option{Name: "outdir", HasArg: getopt.RequiredArgument, Val: 'o'}},
		{0, getopt.Option{Name: "config", HasArg: getopt.RequiredArgument, Val: 'C'}},
		{0, getopt.Option{Name: "symvers", HasArg: getopt.RequiredArgument, Val: 'E'}},
		{0, getopt.Option{Name: "filesyms", HasArg: getopt.RequiredArgument, Val: 'F'}},
		{0, getopt.Option{Name: "errsyms", Val: 'e'}},
		{30, getopt.Option{Name: "unresolved-error", Val: 'u'}},
		{30, getopt.Option{Name: "quiet", Val: 'q'}},
		{30, getopt.Option{Name: "root", Val: 'r'}},
		{0, getopt.Option{Name: "verbose", Val: 'v'}},
		{0, getopt.Option{Name: "show", Val: 'n'}},
		{0, getopt.Option{Name: "dry-run", Val: 'n'}},
		{0, getopt.Option{Name: "symbol-prefix", HasArg: getopt.RequiredArgument, Val: 'P'}},
		{0, getopt.Option{Name: "warn", Val: 'w'}},
		{30, getopt.Option{Name: "map", Val: 'm'}},
		{0, getopt.Option{Name: "version", Val: 'V'}},
		{0, getopt.Option{Name: "help", Val: 'h'}},
		{30, getopt.Option{Name: "output-dir", HasArg: getopt.RequiredArgument, Val: 'o'}},
	} {
		if o.only == 0 || o.only == release {
			opts = append(opts, o.opt)
		}
	}
	return opts
}

// runDepmod is gokmod depmod: kmod 34's depmod (with -o/--outdir and
// -m/--moduledir), or with GOKMOD_COMPAT=kmod30 kmod 30's, to which
// gokmod adds -o DIR to write the files into DIR.
func runDepmod(e *env, argv0 string, args []string) (status int) {
	e.WorkKeepsTree()
	log := newToolLog("depmod", e.Stderr)
	defer func() {
		log.close()
		// kmod's fatal messages end the tool.
		if r := recover(); r != nil {
			code, ok := r.(exitNow)
			if !ok {
				panic(r)
			}
			status = int(code)
		}
	}()
	compat, err := compatFromEnv(e)
	if err != nil {
		log.printf(logErr, "%v\n", err)
		return 1
	}
	kmod30 := compat == modprobe.CompatKmod30
	verbose := logWarning
	opts := depmod.Options{Compat: compat}
	var configs []string
	maybeAll, all := false, false
	short := depmodShort34
	if kmod30 {
		short = depmodShort30
	}
	p := getopt.New(argv0, args, short, depmodLong(kmod30), e.Stderr)
	for c, arg := range p.Options() {
		switch {
		case c == 'a':
			all = true
		case c == 'A':
			maybeAll = true
		case c == 'b':
			dir, ok := absoluteCwd(arg)
			switch {
			case !ok && kmod30:
				dir = "" // kmod 30 goes on without a base directory
			case !ok:
				log.printf(logErr, "invalid image path %s\n", arg)
				return 1
			}
			opts.BaseDir = dir
		case c == 'C':
			configs = append(configs, arg)
		case c == 'E':
			opts.Symvers = arg
		case c == 'F':
			opts.SystemMap = arg
		case c == 'e':
			opts.ErrSyms = true
		case c == 'v':
			verbose++
		case c == 'n':
			opts.DryRun = e.Stdout
		case c == 'P':
			if len(arg) != 1 {
				log.printf(logCrit, "-P only takes a single char\n")
				return 1
			}
			opts.SymPrefix = arg[0]
		case c == 'w':
			opts.WarnDups = true
		case c == 'm' && !kmod30:
			opts.ModuleDirectory = arg
			if arg == "" {
				opts.ModuleDirectory = "/" // not the default: no directory
			}
		case c == 'o' && !kmod30:
			dir, ok := absoluteCwd(arg)
			if !ok {
				log.printf(logErr, "invalid output directory %s\n", arg)
				return 1
			}
			opts.OutDir = dir
		case c == 'u', c == 'q', c == 'r', c == 'm':
			if name := p.LongName(); name != "" {
				log.printf(logWarning, "Ignored deprecated option --%s\n", name)
			} else {
				log.printf(logWarning, "Ignored deprecated option -%c\n", rune(c))
			}
		case c == 'o':
			opts.OutputDir = arg
		case c == 'h':
			usage := depmodUsage34
			if kmod30 {
				usage = depmodUsage30
			}
			fmt.Fprintf(e.Stdout, usage, filepath.Base(argv0))
			return 0
		case c == 'V':
			fmt.Fprint(e.Stdout, versionText(compat))
			return 0
		case c == '?':
			return 1
		default:
			log.printf(logErr, "unexpected getopt_long() value '%c'.\n", rune(c))
			return 1
		}
	}
	operands := p.Operands()
	if len(operands) > 0 {
		if !isVersionNumber(operands[0]) {
			log.printf(logErr, "Bad version passed %s\n", operands[0])
			return 1
		}
		opts.Release = operands[0]
		operands = operands[1:]
	}
	// With -a, or with no module named, the whole tree.
	if len(operands) > 0 && !all {
		opts.Modules = operands
	}
	if configs != nil {
		opts.ConfigPaths = configs
	}
	log.priority = verbose
	opts.Log = func(l depmod.Level, msg string) { log.printf(int(l), "%s\n", msg) }
	ok, layered := depmodLayers(e, log, &opts)
	if !ok {
		return 1
	}
	if !layered && !kmod30 && depmod.CheckDirs(opts) != nil {
		return 1
	}
	if maybeAll && !layered {
		if opts.DryRun != nil {
			return 0
		}
		if depmod.UpToDate(opts) {
			return 0
		}
		// -A then indexes the whole tree, whatever the operands say.
		opts.Modules = nil
	}
	if verbose > logWarning {
		opts.Show = e.Stdout
	}
	// libkmod's context: kmod -vv shows it set up and released (the
	// addresses differ from run to run anyway); kmod 34 names no source
	// line.
	where := func(kmod30Where string) string {
		if kmod30 {
			return kmod30Where
		}
		return ""
	}
	log.printf(logInfo, "%scustom logging function %#x registered\n", where("../libkmod/libkmod.c:367 kmod_set_log_fn() "), kmodContext)
	err = depmod.Run(e.Context(), opts)
	// (A fatal message has ended the tool before this, as it does kmod.)
	log.printf(logInfo, "%scontext %#x released\n", where("../libkmod/libkmod.c:334 kmod_unref() "), kmodContext)
	if err != nil {
		return 1
	}
	return 0
}

// kmodContext stands for the address libkmod's messages print.
const kmodContext uint64 = 0x55d0c0de2a0

// absoluteCwd is path_make_absolute_cwd: a relative path is put after the
// working directory, without cleaning. ok is false when there is no
// working directory to put it after (it was removed).
func absoluteCwd(p string) (abs string, ok bool) {
	if strings.HasPrefix(p, "/") {
		return p, true
	}
	cwd, err := os.Getwd()
	if err != nil {
		return p, false
	}
	return cwd + "/" + p, true
}

// isVersionNumber is depmod's is_version_number: "%u.%u" at the start.
func isVersionNumber(v string) bool {
	i := 0
	digits := func() bool {
		start := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		return i > start
	}
	if !digits() || i >= len(v) || v[i] != '.' {
		return false
	}
	i++
	return digits()
}

// depmodUsage30 and depmodUsage34 are depmod -h of kmod 30, with gokmod's
// -o, and of kmod 34, for the program's name.
const (
	depmodUsage30 = depmodUsageHead +
		"\t-o, --output-dir=DIR Write the files in DIR (gokmod's own)\n" +
		depmodUsageDistros +
		"\t-b, --basedir=DIR    Use an image of a module tree.\n" +
		depmodUsageSyms
	depmodUsage34 = depmodUsageHead + depmodUsageDistros +
		"\t-b, --basedir=DIR    Root path (default: /).\n" +
		"\t-m, --moduledir=DIR  Module directory (default: /lib/modules).\n" +
		"\t-o, --outdir=DIR     Output root path (default: same as <basedir>).\n" +
		depmodUsageSyms
)

// The parts of depmod -h that kmod 30 and 34 share.
const (
	depmodUsageHead = `Usage:
	%s -[aA] [options] [forced_version]

If no arguments (except options) are given, "depmod -a" is assumed

depmod will output a dependency list suitable for the modprobe utility.

Options:
	-a, --all            Probe all modules
	-A, --quick          Only does the work if there's a new module
	-e, --errsyms        Report not supplied symbols
	-n, --show           Write the dependency file on stdout only
	-P, --symbol-prefix  Architecture symbol prefix
	-C, --config=PATH    Read configuration from PATH
	-v, --verbose        Enable verbose mode
	-w, --warn           Warn on duplicates
	-V, --version        show version
	-h, --help           show this help
`
	depmodUsageDistros = "\nThe following options are useful for people managing distributions:\n"
	depmodUsageSyms    = `	-F, --filesyms=FILE  Use the file instead of the
	                     current kernel symbols.
	-E, --symvers=FILE   Use Module.symvers file to check
	                     symbol versions.
`
)
