// Package modprobeopt holds modprobe's command-line options, as kmod 30
// defines them, for the tools and for the adapters that read modprobe
// argument lists (KMM's args and rawArgs).
package modprobeopt

import "github.com/gokmod/modprobe/internal/getopt"

// The values of modprobe's long options that have no short form.
const (
	ForceVermagic   = 1
	ForceModversion = 2
	FirstTime       = 3
	ShowModversions = 4
	RemoveHolders   = 5
	ShowExports     = 6
)

// Short is modprobe's short options, in getopt's syntax.
const Short = "arw:RibfDcnC:d:S:sqvVh"

// Long returns modprobe's long options.
func Long() []getopt.Option {
	return []getopt.Option{
		{Name: "all", Val: 'a'},
		{Name: "remove", Val: 'r'},
		{Name: "remove-dependencies", Val: RemoveHolders},
		{Name: "remove-holders", Val: RemoveHolders},
		{Name: "wait", HasArg: getopt.RequiredArgument, Val: 'w'},
		{Name: "resolve-alias", Val: 'R'},
		{Name: "first-time", Val: FirstTime},
		{Name: "ignore-install", Val: 'i'},
		{Name: "ignore-remove", Val: 'i'},
		{Name: "use-blacklist", Val: 'b'},
		{Name: "force", Val: 'f'},
		{Name: "force-modversion", Val: ForceModversion},
		{Name: "force-vermagic", Val: ForceVermagic},
		{Name: "show-depends", Val: 'D'},
		{Name: "showconfig", Val: 'c'},
		{Name: "show-config", Val: 'c'},
		{Name: "show-modversions", Val: ShowModversions},
		{Name: "dump-modversions", Val: ShowModversions},
		{Name: "show-exports", Val: ShowExports},
		{Name: "dry-run", Val: 'n'},
		{Name: "show", Val: 'n'},
		{Name: "config", HasArg: getopt.RequiredArgument, Val: 'C'},
		{Name: "dirname", HasArg: getopt.RequiredArgument, Val: 'd'},
		{Name: "set-version", HasArg: getopt.RequiredArgument, Val: 'S'},
		{Name: "syslog", Val: 's'},
		{Name: "quiet", Val: 'q'},
		{Name: "verbose", Val: 'v'},
		{Name: "version", Val: 'V'},
		{Name: "help", Val: 'h'},
	}
}
