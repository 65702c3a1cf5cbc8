// Package getopt is a pure-Go emulation of glibc 2.36's getopt_long(3), as
// the kmod tools call it: opterr is 1, so the parser prints glibc's own
// diagnostics, and every long option has a NULL flag pointer, so a long
// option reports its Val.
//
// The emulation covers the parts of getopt_long a command-line tool can
// observe: the option codes and arguments in the order glibc returns them,
// the error messages byte for byte, optopt, and the final order of the
// operands after glibc has permuted argv. It follows GNU semantics:
//
//   - By default non-options are skipped and moved after the options
//     (permutation). A shortopts string starting with '+', or a set
//     POSIXLY_CORRECT environment variable, stops at the first non-option.
//     A shortopts string starting with '-' reports each non-option in place
//     as option code 1 with the non-option as its argument.
//   - A ':' at the start of shortopts (after any '+' or '-') silences the
//     error messages and makes a missing argument return ':' instead of '?'.
//   - "--" ends the options; a lone "-" is an operand.
//   - Short options cluster ("-vn"); a required argument is the rest of the
//     word or the next word; an optional argument ("x::") must be attached.
//   - "W;" in shortopts makes "-W foo" mean "--foo".
//   - "--name" is always a long option, even with an empty table. An exact
//     name wins; otherwise the first option in table order that the name
//     is a prefix of is taken, unless a later such option has a different
//     HasArg or Val than that first one. Then the name is ambiguous and the
//     message lists the first option and every later one that differs from
//     it, in table order. Options equal to the first one are never listed,
//     even when they differ from another listed one, and an empty name
//     ("--=x") is a prefix of every option.
//
// getopt_long_only's single-dash long options are not emulated.
//
// Arguments are handled as C strings: an argument or shortopts string is
// cut at its first NUL byte, and option characters are single bytes. Like
// glibc on amd64, where char is signed, a short option byte of 0x80 or above
// is reported as a negative number.
//
// The package has no global state; each Parser holds everything one scan of
// an argument list needs.
package getopt

import (
	"io"
	"iter"
)

// HasArg tells whether a long option takes an argument. Its values are the
// ones of glibc's no_argument, required_argument and optional_argument.
type HasArg int

const (
	// NoArgument marks a long option that takes no argument; "--name=value"
	// is an error.
	NoArgument HasArg = 0
	// RequiredArgument marks a long option whose argument follows an '='
	// ("--name=value") or, failing that, is the next argument.
	RequiredArgument HasArg = 1
	// OptionalArgument marks a long option whose argument, if any, must
	// follow an '=' ("--name=value"); "--name value" leaves it unset.
	OptionalArgument HasArg = 2
)

// Option describes one long option, like glibc's struct option with a NULL
// flag pointer.
type Option struct {
	// Name is the option's name without the leading "--". It should not
	// contain '=' or NUL.
	Name string
	// HasArg tells whether the option takes an argument.
	HasArg HasArg
	// Val is the code Next returns when the option is given. Several
	// options may share a Val.
	Val int
}

// ordering is how the parser treats non-option arguments.
type ordering int

const (
	// permute skips non-options and moves them after the options.
	permute ordering = iota
	// requireOrder stops at the first non-option.
	requireOrder
	// returnInOrder reports each non-option as option code 1.
	returnInOrder
)

// Parser scans one argument list the way successive getopt_long calls do.
// Create it with New and call Next until it reports done.
type Parser struct {
	prog      string
	argv      []string // argv[0] is prog; reordered in place like glibc's argv
	shortopts string   // as given, cut at NUL
	optstring string   // shortopts without its leading '+' or '-'
	long      []Option
	stderr    io.Writer
	lookupEnv func(key string) (string, bool)

	initialized bool
	done        bool
	order       ordering
	optind      int
	nextchar    string // rest of the current cluster; "" stands for NULL too
	firstNonopt int    // start of the skipped non-options in argv
	lastNonopt  int    // end of the skipped non-options in argv
	optarg      string
	optargSet   bool
	optopt      int
	longName    string // the long option Next last returned, if any
}

// New returns a parser for args, the command-line arguments without the
// program name (argv[0]). prog is the program name glibc would find in
// argv[0]; it starts every error message. shortopts and long are what a C
// program would pass to getopt_long as optstring and longopts; long may be
// empty. Error messages go to stderr; a nil stderr discards them, which
// changes nothing else.
//
// The parser copies args and never modifies the caller's slice. POSIXLY_CORRECT
// counts as unset unless WithEnv supplies an environment.
func New(prog string, args []string, shortopts string, long []Option, stderr io.Writer) *Parser {
	argv := make([]string, 0, len(args)+1)
	argv = append(argv, prog)
	for _, a := range args {
		argv = append(argv, cString(a))
	}
	shortopts = cString(shortopts)
	optstring := shortopts
	if optstring != "" && (optstring[0] == '-' || optstring[0] == '+') {
		optstring = optstring[1:]
	}
	return &Parser{
		prog:      prog,
		argv:      argv,
		shortopts: shortopts,
		optstring: optstring,
		long:      append([]Option(nil), long...),
		stderr:    stderr,
	}
}

// WithEnv sets the function the parser uses to read environment variables,
// with the signature of os.LookupEnv, and returns p. The parser asks it
// once, on the first call of Next, whether POSIXLY_CORRECT is set (to any
// value, even empty). Call it before the first Next; pass os.LookupEnv to
// behave exactly like glibc.
func (p *Parser) WithEnv(lookup func(key string) (string, bool)) *Parser {
	p.lookupEnv = lookup
	return p
}

// Next returns the next option. opt is the short option character, the Val
// of a long option, 1 for a non-option when shortopts starts with '-', or
// '?' after an error (':' for a missing argument when shortopts starts with
// ':'). arg is the option's argument, or "" when it has none (ArgPresent
// tells an absent argument from an empty one). When no options are left,
// Next returns -1, "" and done = true, and keeps doing so on later calls;
// the operands are then available from Operands. Only done marks the end:
// a short option byte of 0xff in shortopts is reported as -1, as glibc's
// signed char makes it, with done = false.
func (p *Parser) Next() (opt int, arg string, done bool) {
	p.longName = ""
	if p.done {
		p.optarg, p.optargSet = "", false
		return -1, "", true
	}
	c, end := p.step()
	if end {
		p.done = true
		return -1, "", true
	}
	return c, p.optarg, false
}

// Options returns the options Next would return, each with its
// argument, up to the end of the options: a loop over it is a loop over
// Next that stops at done. LongName, ArgPresent and Optopt describe the
// option being yielded.
func (p *Parser) Options() iter.Seq2[int, string] {
	return func(yield func(opt int, arg string) bool) {
		for {
			c, arg, done := p.Next()
			if done || !yield(c, arg) {
				return
			}
		}
	}
}

// LongName returns the name of the long option the last Next returned
// (glibc's longindex), or "" when it was a short option or none.
func (p *Parser) LongName() string { return p.longName }

// ArgPresent reports whether the option most recently returned by Next had
// an argument, even an empty one ("--name="); it is glibc's optarg != NULL.
func (p *Parser) ArgPresent() bool {
	return p.optargSet
}

// Optopt returns glibc's optopt: after Next returned '?' or ':', the short
// option character, or the Val of a long option, that caused the error, or
// 0 for an unknown or ambiguous long option. Like glibc it keeps its value
// until the next error. Before any error it is 0, as glibc copies its
// internal, zero-initialised value into optopt on every call; only before
// the first call of Next is it '?', optopt's static initial value.
func (p *Parser) Optopt() int {
	if !p.initialized {
		return '?'
	}
	return p.optopt
}

// Operands returns the arguments left after the options, in the order
// glibc leaves them in argv from optind on once getopt_long returned -1:
// with permutation, the non-options in the order they were given. Call it
// after Next reported done; before that it returns the arguments not yet
// scanned. The result is a new slice.
func (p *Parser) Operands() []string {
	return append([]string(nil), p.argv[p.optind:]...)
}
