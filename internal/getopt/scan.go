package getopt

import (
	"io"
	"strings"
)

// cString returns s up to its first NUL byte, which is all of it a C
// program could see.
func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// signedChar converts an option byte the way assigning it to a C char does
// on amd64, where char is signed.
func signedChar(c byte) int {
	return int(int8(c))
}

// isNonOption reports whether argv[i] is an operand: anything that does not
// start with '-', and "-" itself.
func (p *Parser) isNonOption(i int) bool {
	a := p.argv[i]
	return len(a) < 2 || a[0] != '-'
}

// report writes one complete diagnostic, if diagnostics are enabled.
func (p *Parser) report(msg string) {
	if p.printErrors() {
		_, _ = io.WriteString(p.stderr, msg)
	}
}

// printErrors tells whether glibc would print diagnostics: opterr is always
// 1 here, so only a leading ':' in the option string (or a nil writer)
// silences them.
func (p *Parser) printErrors() bool {
	return p.stderr != nil && !p.colon()
}

// colon reports whether the option string, after its '+' or '-', starts
// with ':'.
func (p *Parser) colon() bool {
	return p.optstring != "" && p.optstring[0] == ':'
}

// missingArg is the code returned when an option lacks its argument.
func (p *Parser) missingArg() int {
	if p.colon() {
		return ':'
	}
	return '?'
}

// initialize sets the scan up on the first call of Next.
func (p *Parser) initialize() {
	p.optind = 1
	p.firstNonopt, p.lastNonopt = 1, 1
	p.nextchar = ""
	switch {
	case p.shortopts != "" && p.shortopts[0] == '-':
		p.order = returnInOrder
	case p.shortopts != "" && p.shortopts[0] == '+':
		p.order = requireOrder
	case p.posixlyCorrect():
		p.order = requireOrder
	default:
		p.order = permute
	}
	p.initialized = true
}

// posixlyCorrect reports whether POSIXLY_CORRECT is set in the injected
// environment.
func (p *Parser) posixlyCorrect() bool {
	if p.lookupEnv == nil {
		return false
	}
	_, ok := p.lookupEnv("POSIXLY_CORRECT")
	return ok
}

// exchange moves the options found since the skipped non-options,
// argv[lastNonopt:optind], in front of those non-options,
// argv[firstNonopt:lastNonopt], keeping the order within each block.
func (p *Parser) exchange() {
	nonopts := append([]string(nil), p.argv[p.firstNonopt:p.lastNonopt]...)
	n := copy(p.argv[p.firstNonopt:], p.argv[p.lastNonopt:p.optind])
	copy(p.argv[p.firstNonopt+n:], nonopts)
	p.firstNonopt += p.optind - p.lastNonopt
	p.lastNonopt = p.optind
}

// step does the work of one getopt_long call. It returns the option code,
// and end = true when the scan is over (getopt_long's -1 at the end, as
// opposed to a short option byte 0xff, which a signed char also turns
// into -1).
func (p *Parser) step() (code int, end bool) {
	p.optarg, p.optargSet = "", false
	if !p.initialized {
		p.initialize()
	}
	argc := len(p.argv)

	if p.nextchar == "" {
		// The previous argument is used up: move to the next one.
		if p.order == permute {
			// Options were found after skipped non-options: put the
			// options first.
			if p.firstNonopt != p.lastNonopt && p.lastNonopt != p.optind {
				p.exchange()
			} else if p.lastNonopt != p.optind {
				p.firstNonopt = p.optind
			}
			// Skip further non-options, adding them to the skipped block.
			for p.optind < argc && p.isNonOption(p.optind) {
				p.optind++
			}
			p.lastNonopt = p.optind
		}

		// "--" ends the options. It is moved in front of the skipped
		// non-options as if it were an option, and everything after it
		// counts as a non-option.
		if p.optind != argc && p.argv[p.optind] == "--" {
			p.optind++
			if p.firstNonopt != p.lastNonopt && p.lastNonopt != p.optind {
				p.exchange()
			} else if p.firstNonopt == p.lastNonopt {
				p.firstNonopt = p.optind
			}
			p.lastNonopt = argc
			p.optind = argc
		}

		if p.optind == argc {
			// All done: point optind back at the skipped non-options.
			if p.firstNonopt != p.lastNonopt {
				p.optind = p.firstNonopt
			}
			return -1, true
		}

		// A non-option that was not skipped: stop, or report it.
		if p.isNonOption(p.optind) {
			if p.order == requireOrder {
				return -1, true
			}
			p.optarg, p.optargSet = p.argv[p.optind], true
			p.optind++
			return 1, false
		}

		// "--name" is always a long option ("--" was handled above).
		if p.argv[p.optind][1] == '-' {
			p.nextchar = p.argv[p.optind][2:]
			return p.longOption("--"), false
		}
		p.nextchar = p.argv[p.optind][1:]
	}

	// The next short option character of the current cluster.
	c := p.nextchar[0]
	p.nextchar = p.nextchar[1:]
	if p.nextchar == "" {
		// The last character of an argument: move past the argument now.
		p.optind++
	}

	i := strings.IndexByte(p.optstring, c)
	if i < 0 || c == ':' || c == ';' {
		p.report(p.prog + ": invalid option -- '" + string([]byte{c}) + "'\n")
		p.optopt = signedChar(c)
		return '?', false
	}
	spec := p.optstring[i+1:] // what follows the character in optstring

	if c == 'W' && strings.HasPrefix(spec, ";") {
		// "-W name" or "-Wname" means "--name". The name is required.
		switch {
		case p.nextchar != "":
			// "-Wname": the name is the rest of this argument.
		case p.optind == argc:
			p.report(p.prog + ": option requires an argument -- '" + string([]byte{c}) + "'\n")
			p.optopt = signedChar(c)
			return p.missingArg(), false
		default:
			p.nextchar = p.argv[p.optind]
		}
		return p.longOption("-W "), false
	}

	switch {
	case strings.HasPrefix(spec, "::"):
		// Optional argument: only the rest of this argument.
		if p.nextchar != "" {
			p.optarg, p.optargSet = p.nextchar, true
			p.optind++
		}
		p.nextchar = ""
	case strings.HasPrefix(spec, ":"):
		// Required argument: the rest of this argument or the next one.
		p.nextchar, p.optarg = "", p.nextchar
		switch {
		case p.optarg != "":
			p.optargSet = true
			p.optind++
		case p.optind == argc:
			p.report(p.prog + ": option requires an argument -- '" + string([]byte{c}) + "'\n")
			p.optopt = signedChar(c)
			return p.missingArg(), false
		default:
			p.optarg, p.optargSet = p.argv[p.optind], true
			p.optind++
		}
	}
	return signedChar(c), false
}

// longOption handles the long option whose text, after prefix ("--" or
// "-W "), is p.nextchar.
func (p *Parser) longOption(prefix string) int {
	text := p.nextchar
	name, value, hasValue := strings.Cut(text, "=")

	// An exact match wins.
	found := -1
	for i := range p.long {
		if p.long[i].Name == name {
			found = i
			break
		}
	}

	if found < 0 {
		// Otherwise take the first option the name abbreviates. A later
		// one makes the name ambiguous unless it has the same HasArg and
		// Val as that first one; note that it is compared with the first
		// match only, so an option equal to the first is never listed.
		var ambiguous []int
		for i := range p.long {
			o := &p.long[i]
			if !strings.HasPrefix(o.Name, name) {
				continue
			}
			if found < 0 {
				found = i
				continue
			}
			first := &p.long[found]
			if o.HasArg != first.HasArg || o.Val != first.Val {
				if ambiguous == nil {
					ambiguous = append(ambiguous, found)
				}
				ambiguous = append(ambiguous, i)
			}
		}
		if ambiguous != nil {
			var b strings.Builder
			b.WriteString(p.prog + ": option '" + prefix + text + "' is ambiguous; possibilities:")
			for _, i := range ambiguous {
				b.WriteString(" '" + prefix + p.long[i].Name + "'")
			}
			b.WriteString("\n")
			p.report(b.String())
			p.nextchar = ""
			p.optind++
			p.optopt = 0
			return '?'
		}
	}

	if found < 0 {
		p.report(p.prog + ": unrecognized option '" + prefix + text + "'\n")
		p.nextchar = ""
		p.optind++
		p.optopt = 0
		return '?'
	}

	o := &p.long[found]
	p.longName = o.Name
	p.optind++
	p.nextchar = ""
	if hasValue {
		if o.HasArg == NoArgument {
			p.report(p.prog + ": option '" + prefix + o.Name + "' doesn't allow an argument\n")
			p.optopt = o.Val
			return '?'
		}
		p.optarg, p.optargSet = value, true
	} else if o.HasArg == RequiredArgument {
		if p.optind >= len(p.argv) {
			p.report(p.prog + ": option '" + prefix + o.Name + "' requires an argument\n")
			p.optopt = o.Val
			return p.missingArg()
		}
		p.optarg, p.optargSet = p.argv[p.optind], true
		p.optind++
	}
	return o.Val
}
