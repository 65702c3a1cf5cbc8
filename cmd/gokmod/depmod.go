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

// depmod's options, as kmod 30 defines them, and gokmod's -o.
const depmodShort = "aAb:C:E:F:euqrvnP:wmVho:"

func depmodLong() []getopt.Option {
	return []getopt.Option{
		{Name: "all", Val: 'a'},
		{Name: "quick", Val: 'A'},
		{Name: "basedir", HasArg: getopt.RequiredArgument, Val: 'b'},
		{Name: "config", HasArg: getopt.RequiredArgument, Val: 'C'},
		{Name: "symvers", HasArg: getopt.RequiredArgument, Val: 'E'},
		{Name: "filesyms", HasArg: getopt.RequiredArgument, Val: 'F'},
		{Name: "errsyms", Val: 'e'},
		{Name: "unresolved-error", Val: 'u'},
		{Name: "quiet", Val: 'q'},
		{Name: "root", Val: 'r'},
		{Name: "verbose", Val: 'v'},
		{Name: "show", Val: 'n'},
		{Name: "dry-run", Val: 'n'},
		{Name: "symbol-prefix", HasArg: getopt.RequiredArgument, Val: 'P'},
		{Name: "warn", Val: 'w'},
		{Name: "map", Val: 'm'},
		{Name: "version", Val: 'V'},
		{Name: "help", Val: 'h'},
		{Name: "output-dir", HasArg: getopt.RequiredArgument, Val: 'o'},
	}
}

// runDepmod is gokmod depmod: kmod 30's depmod, with -o DIR to write the
// files elsewhere.
func runDepmod(e *env, argv0 string, args []string) (status int) {
	log := newToolLog("depmod", e.stderr)
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
	verbose := logWarning
	opts := depmod.Options{}
	var configs []string
	maybeAll, all := false, false
	p := getopt.New(argv0, args, depmodShort, depmodLong(), e.stderr)
	for c, arg := range p.Options() {
		switch c {
		case 'a':
			all = true
		case 'A':
			maybeAll = true
		case 'b':
			opts.BaseDir = absoluteCwd(arg)
		case 'C':
			configs = append(configs, arg)
		case 'E':
			opts.Symvers = arg
		case 'F':
			opts.SystemMap = arg
		case 'e':
			opts.ErrSyms = true
		case 'v':
			verbose++
		case 'n':
			opts.DryRun = e.stdout
		case 'P':
			if len(arg) != 1 {
				log.printf(logCrit, "-P only takes a single char\n")
				return 1
			}
			opts.SymPrefix = arg[0]
		case 'w':
			opts.WarnDups = true
		case 'u', 'q', 'r', 'm':
			if name := p.LongName(); name != "" {
				log.printf(logWarning, "Ignored deprecated option --%s\n", name)
			} else {
				log.printf(logWarning, "Ignored deprecated option -%c\n", rune(c))
			}
		case 'o':
			opts.OutputDir = arg
		case 'h':
			fmt.Fprintf(e.stdout, depmodUsage, filepath.Base(argv0))
			return 0
		case 'V':
			return printVersion(e.stdout, e, log)
		case '?':
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
	compat, err := compatFromEnv(e)
	if err != nil {
		log.printf(logErr, "%v\n", err)
		return 1
	}
	opts.Weakdep = compat == modprobe.CompatLatest
	log.priority = verbose
	opts.Log = func(l depmod.Level, msg string) { log.printf(int(l), "%s\n", msg) }
	if maybeAll {
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
		opts.Show = e.stdout
	}
	// libkmod's context: kmod -vv shows it set up and released (the
	// addresses differ from run to run anyway).
	log.printf(logInfo, "../libkmod/libkmod.c:367 kmod_set_log_fn() custom logging function %#x registered\n", kmodContext)
	err = depmod.Run(e.context(), opts)
	// (A fatal message has ended the tool before this, as it does kmod.)
	log.printf(logInfo, "../libkmod/libkmod.c:334 kmod_unref() context %#x released\n", kmodContext)
	if err != nil {
		return 1
	}
	return 0
}

// kmodContext stands for the address libkmod's messages print.
const kmodContext = 0x55d0c0de2a0

// absoluteCwd is path_make_absolute_cwd: a relative path is put after the
// working directory, without cleaning.
func absoluteCwd(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	cwd, err := os.Getwd()
	if err != nil {
		return p
	}
	return cwd + "/" + p
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

const depmodUsage = `Usage:
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
	-o, --output-dir=DIR Write the files in DIR (gokmod's own)

The following options are useful for people managing distributions:
	-b, --basedir=DIR    Use an image of a module tree.
	-F, --filesyms=FILE  Use the file instead of the
	                     current kernel symbols.
	-E, --symvers=FILE   Use Module.symvers file to check
	                     symbol versions.
`
