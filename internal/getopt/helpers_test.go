package getopt

import (
	"fmt"
	"io"
	"strings"
)

// modprobeShortopts and modprobeLong are kmod 30 modprobe's option tables
// (tools/modprobe.c), the main user of this package.
const modprobeShortopts = "arw:RibfDcnC:d:S:sqvVh"

var modprobeLong = []Option{
	{"all", NoArgument, 'a'},
	{"remove", NoArgument, 'r'},
	{"remove-dependencies", NoArgument, 5},
	{"remove-holders", NoArgument, 5},
	{"wait", RequiredArgument, 'w'},
	{"resolve-alias", NoArgument, 'R'},
	{"first-time", NoArgument, 3},
	{"ignore-install", NoArgument, 'i'},
	{"ignore-remove", NoArgument, 'i'},
	{"use-blacklist", NoArgument, 'b'},
	{"force", NoArgument, 'f'},
	{"force-modversion", NoArgument, 2},
	{"force-vermagic", NoArgument, 1},
	{"show-depends", NoArgument, 'D'},
	{"showconfig", NoArgument, 'c'},
	{"show-config", NoArgument, 'c'},
	{"show-modversions", NoArgument, 4},
	{"dump-modversions", NoArgument, 4},
	{"show-exports", NoArgument, 6},
	{"dry-run", NoArgument, 'n'},
	{"show", NoArgument, 'n'},
	{"config", RequiredArgument, 'C'},
	{"dirname", RequiredArgument, 'd'},
	{"set-version", RequiredArgument, 'S'},
	{"syslog", NoArgument, 's'},
	{"quiet", NoArgument, 'q'},
	{"verbose", NoArgument, 'v'},
	{"version", NoArgument, 'V'},
	{"help", NoArgument, 'h'},
}

// extraLong exercises what modprobe's table does not: optional arguments,
// odd Val values, and the first-match-only ambiguity rule.
var extraLong = []Option{
	{"alpha", NoArgument, 'a'},
	{"beta", RequiredArgument, 'b'},
	{"gamma", OptionalArgument, 'c'},
	{"gam", NoArgument, 'g'},
	{"delta", OptionalArgument, 'd'},
	{"delta-two", OptionalArgument, 'd'},
	{"delta-three", NoArgument, 'd'},
	{"big", NoArgument, 300},
	{"neg", NoArgument, -5},
	{"zero", NoArgument, 0},
	{"pa", NoArgument, 'x'},
	{"pb", NoArgument, 'y'},
	{"pc", NoArgument, 'x'},
	{"qa", NoArgument, 'x'},
	{"qb", NoArgument, 'x'},
	{"qc", RequiredArgument, 'x'},
	{"qd", NoArgument, 'y'},
}

// transcript runs p to the end and describes everything a C program could
// observe, in the format of the C program in glibc_test.go: one line per
// option code with optopt and optarg ("-" for NULL, "=" and the value
// otherwise), the diagnostics where glibc prints them, and the operands.
// The parser's diagnostics must go to out.
func transcript(p *Parser, out io.Writer) {
	for {
		opt, arg, done := p.Next()
		if done {
			break
		}
		if p.ArgPresent() {
			fmt.Fprintf(out, "opt %d optopt %d arg =%s\n", opt, p.Optopt(), arg)
		} else {
			fmt.Fprintf(out, "opt %d optopt %d arg -\n", opt, p.Optopt())
		}
	}
	var b strings.Builder
	b.WriteString("operands")
	for _, o := range p.Operands() {
		b.WriteString(" [" + o + "]")
	}
	b.WriteString("\n")
	_, _ = io.WriteString(out, b.String())
}

// envWith returns a lookup function for an environment holding only vars,
// given as "KEY=value".
func envWith(vars ...string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		for _, kv := range vars {
			if k, v, _ := strings.Cut(kv, "="); k == key {
				return v, true
			}
		}
		return "", false
	}
}
