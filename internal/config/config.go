// Package config reads modprobe.d configuration and the kernel command line
// with the rules of kmod's libkmod: which files are read and in what order,
// how lines are joined and split, and what each directive stores.
//
// Parsing never fails as a whole. Like libkmod, a bad line is reported and
// skipped; the report is a Diag with kmod's own wording.
package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Dialect selects the kmod release whose configuration rules apply where
// releases differ.
type Dialect int

const (
	// Latest follows current kmod (34): the weakdep directive and
	// modules.weakdep exist, *.alias files are not configuration, a
	// backslash at the end of a file is dropped, and /usr/lib/modprobe.d
	// is searched.
	Latest Dialect = iota
	// Kmod30 follows kmod 30 (Debian 12): no weakdep, *.alias files are
	// read, a backslash at the end of a file leaves a 0xff byte (the EOF
	// libkmod stored), and no /usr/lib/modprobe.d.
	Kmod30
)

// String returns the GOKMOD_COMPAT word for d: "kmod34" or "kmod30" (the
// public name of the type is modprobe.Compat).
func (d Dialect) String() string {
	switch d {
	case Latest:
		return "kmod34"
	case Kmod30:
		return "kmod30"
	}
	return "Compat(" + strconv.Itoa(int(d)) + ")"
}

// DefaultPaths returns the directories kmod searches when no -C is given,
// in precedence order: for two files with the same name the first
// directory wins. kmod 32 added /usr/lib/modprobe.d; on a merged-/usr
// system it is the same directory as /lib/modprobe.d.
func DefaultPaths(d Dialect) []string {
	paths := []string{"/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d"}
	if d != Kmod30 {
		paths = append(paths, "/usr/lib/modprobe.d")
	}
	return append(paths, "/lib/modprobe.d")
}

// Pos is where a directive was read: a file and the number of the last
// physical line of its logical line. Directives from the kernel command
// line have File "/proc/cmdline" (or the configured path) and Line 0.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Alias is an "alias PATTERN MODULE" directive.
type Alias struct {
	Pattern string // an fnmatch pattern, normalized
	Module  string // normalized
	Pos     Pos
}

// Option is an "options MODULE STRING" directive or a module parameter on
// the kernel command line.
type Option struct {
	Module  string // normalized; compared with a module's name and alias
	Options string // verbatim after one separator, tabs turned into spaces
	Pos     Pos
}

// Command is an "install" or "remove" directive.
type Command struct {
	Module  string // an fnmatch pattern, normalized
	Command string // verbatim after one separator
	Pos     Pos
}

// Softdep is a "softdep MODULE pre: ... post: ..." directive.
type Softdep struct {
	Module string   // an fnmatch pattern, normalized
	Pre    []string // names as written, resolved later by a full lookup
	Post   []string
	Pos    Pos

	// all holds the kept names in line order and pre/post their indexes
	// in it; modprobe -c prints the whole span from the first to the last
	// name of each list, as libkmod does.
	all       []string
	pre, post []int
}

// Weakdep is a "weakdep MODULE ..." directive: modules an initramfs builder
// should include, which are never loaded.
type Weakdep struct {
	Module string
	Deps   []string
	Pos    Pos
}

// Blacklist is a "blacklist MODULE" directive or a modprobe.blacklist=
// entry on the kernel command line.
type Blacklist struct {
	Module string
	Pos    Pos
}

// Config is the parsed configuration, every list in the order kmod keeps:
// files sorted by name, lines in file order, the kernel command line last.
type Config struct {
	Aliases   []Alias
	Blacklist []Blacklist
	Options   []Option
	Install   []Command
	Remove    []Command
	Softdeps  []Softdep
	Weakdeps  []Weakdep
	// Files lists the files read, in the order they were parsed.
	Files []string

	dialect Dialect
}

// Code identifies a message libkmod logs while reading configuration.
type Code int

// The configuration messages.
const (
	BadLine        Code = iota + 1 // "FILE line N: ignoring bad line starting with 'CMD'"
	Deprecated                     // "FILE: command CMD is deprecated and not parsed anymore"
	DirInDir                       // "Directories inside directories are not supported: DIR/NAME"
	OpenDir                        // "opendir(DIR): ERROR"
	PathTooLong                    // "Error parsing DIR/NAME: path too long"
	BadCmdlineName                 // "Ignoring bad option on kernel command line while parsing module name: 'NAME'"
	CmdlineRead                    // "could not read from '/proc/cmdline': ERROR"
	DuplicateFile                  // "Ignoring duplicate config file: DIR/NAME" (debug)
	TooLarge                       // gokmod's own: a file over MaxFileSize was cut
	StatEntry                      // "Cannot stat directory entry: DIR/NAME" (kmod 34; kmod 30 reads on)
)

// Diag is one message. Msg is libkmod's text, without a trailing newline.
type Diag struct {
	Code  Code
	Msg   string
	Pos   Pos
	Debug bool // libkmod logs it at debug level only
}

func (d Diag) Error() string { return d.Msg }

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// String renders a softdep the way modprobe -c prints it. It keeps two
// libkmod quirks: there is no space before "post:", and each list is
// printed as the span of the line from its first to its last name, so
// "pre: a post: b pre: c" prints as "pre: a b cpost: b".
func (s *Softdep) String() string {
	var b strings.Builder
	span := func(label string, idx []int, names []string) {
		if len(names) == 0 {
			return
		}
		b.WriteString(label)
		if len(idx) == len(names) && len(s.all) > 0 {
			b.WriteString(strings.Join(s.all[idx[0]:idx[len(idx)-1]+1], " "))
		} else {
			b.WriteString(strings.Join(names, " "))
		}
	}
	span("pre: ", s.pre, s.Pre)
	span("post: ", s.post, s.Post)
	return b.String()
}
