package modulesload

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gokmod/modprobe/internal/fileio"
)

// MaxFileSize bounds each configuration file and the kernel command line
// read (systemd reads lines of up to 1 MiB).
const MaxFileSize = 1 << 20

// DefaultDirs returns the directories systemd-modules-load reads, in
// precedence order. splitUsr adds /lib/modules-load.d last, as the
// systemd of Debian 12 (built for a split /usr) reads it; Debian 13's
// does not.
func DefaultDirs(splitUsr bool) []string {
	dirs := []string{"/etc/modules-load.d", "/run/modules-load.d", "/usr/local/lib/modules-load.d", "/usr/lib/modules-load.d"}
	if splitUsr {
		dirs = append(dirs, "/lib/modules-load.d")
	}
	return dirs
}

// Entry is one name to load and where it was read.
type Entry struct {
	Name string
	// File is the file the name was read from, or "" for the kernel
	// command line; Line is its line number (1-based) in File.
	File string
	Line int
}

// Source returns where the entry was read: "FILE:LINE", or "kernel
// command line".
func (e Entry) Source() string {
	if e.File == "" {
		return "kernel command line"
	}
	return fmt.Sprintf("%s:%d", e.File, e.Line)
}

// ErrConfig is wrapped by the error for a configuration file that cannot
// be read: named as an argument and missing, not a regular file, or
// larger than MaxFileSize. Files found in the directories that vanish
// before they are read are skipped, as systemd skips them.
var ErrConfig = errors.New("cannot read modules-load.d file")

// Options say what to read.
type Options struct {
	// Root is prefixed to every directory, file and the command line
	// path ("" for the running system).
	Root string
	// Dirs are the modules-load.d directories in precedence order; nil
	// means DefaultDirs(SplitUsr).
	Dirs []string
	// SplitUsr adds /lib/modules-load.d to the default directories.
	SplitUsr bool
	// Files, when not empty, are the only files read, in order, as
	// systemd-modules-load's arguments: an absolute path, or a name
	// looked up in Dirs. The kernel command line is not read then.
	Files []string
	// Cmdline is the kernel command line file; "" means /proc/cmdline.
	Cmdline string
	// InInitrd applies rd.modules_load= too, as systemd does in an
	// initrd (it tells one by /etc/initrd-release; see InInitrd).
	InInitrd bool
}

// InInitrd reports whether root is an initrd as systemd tells one: the
// file /etc/initrd-release exists.
func InInitrd(root string) bool {
	_, err := os.Lstat(filepath.Join(root, "/etc/initrd-release"))
	return err == nil
}

// Read returns the names to load, in systemd's order: the command line's
// first, then each file's, files ordered by name. Problems that systemd
// logs and goes past (a file that vanished, an unreadable directory) are
// returned in warnings; err is for what fails systemd-modules-load (a
// file named in Files that cannot be read), and names the file.
func Read(opts Options) (entries []Entry, warnings []error, err error) {
	dirs := slices.Clone(opts.Dirs)
	if dirs == nil {
		dirs = DefaultDirs(opts.SplitUsr)
	}
	for i := range dirs {
		dirs[i] = filepath.Join(opts.Root, dirs[i])
	}
	if len(opts.Files) > 0 {
		for _, f := range opts.Files {
			path := f
			if !filepath.IsAbs(f) {
				path = findIn(dirs, f)
			} else {
				path = filepath.Join(opts.Root, f)
			}
			es, err := readFile(path)
			if err != nil {
				return nil, warnings, fmt.Errorf("%s: %w: %w", f, ErrConfig, err)
			}
			entries = append(entries, es...)
		}
		return entries, warnings, nil
	}
	cmdline := opts.Cmdline
	if cmdline == "" {
		cmdline = filepath.Join(opts.Root, "/proc/cmdline")
	}
	if data, err := fileio.ReadInput(cmdline, MaxFileSize); err == nil {
		for _, n := range cmdlineModules(string(data), opts.InInitrd) {
			entries = append(entries, Entry{Name: n})
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		warnings = append(warnings, fmt.Errorf("%s: %w", cmdline, err))
	}
	files, ws := listFiles(dirs)
	warnings = append(warnings, ws...)
	for _, path := range files {
		es, err := readFile(path)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				warnings = append(warnings, fmt.Errorf("%s: %w: %w", path, ErrConfig, err))
			}
			continue
		}
		entries = append(entries, es...)
	}
	return entries, warnings, nil
}

// findIn returns the first dir/name that exists, or the name in the
// first directory when none does (for the error).
func findIn(dirs []string, name string) string {
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Lstat(p); err == nil {
			return p
		}
	}
	if len(dirs) == 0 {
		return name
	}
	return filepath.Join(dirs[0], name)
}

// listFiles returns the *.conf files of dirs, each name from the first
// directory holding it, sorted by name.
func listFiles(dirs []string) (files []string, warnings []error) {
	byName := map[string]string{}
	for _, d := range dirs {
		names, err := fileio.ReadDirNames(d)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				warnings = append(warnings, fmt.Errorf("%s: %w", d, err))
			}
			continue
		}
		for _, n := range names {
			if !strings.HasSuffix(n, ".conf") || strings.HasPrefix(n, ".") {
				continue
			}
			if _, ok := byName[n]; !ok {
				byName[n] = filepath.Join(d, n)
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		files = append(files, byName[n])
	}
	return files, warnings
}

// readFile reads one configuration file's names. /dev/null (a masking
// symbolic link) reads as empty.
func readFile(path string) ([]Entry, error) {
	if target, err := filepath.EvalSymlinks(path); err == nil && target == os.DevNull {
		return nil, nil
	}
	data, err := fileio.ReadInput(path, MaxFileSize)
	if err != nil {
		return nil, err
	}
	var entries []Entry
	for i, line := range strings.Split(string(data), "\n") {
		l := strings.Trim(line, " \t\n\r")
		if l == "" || strings.ContainsRune("#;", rune(l[0])) {
			continue
		}
		entries = append(entries, Entry{Name: l, File: path, Line: i + 1})
	}
	return entries, nil
}

// cmdlineModules returns the names of modules_load= (and, in an initrd,
// rd.modules_load=) on the kernel command line, in order. Words are split
// as systemd splits them (white space, quotes removed, a backslash taking
// the next byte as it is), keys compared with '-' and '_' alike.
func cmdlineModules(cmdline string, initrd bool) []string {
	var names []string
	for _, word := range splitCmdline(cmdline) {
		key, value, ok := strings.Cut(word, "=")
		if !ok {
			continue
		}
		if initrd {
			key = strings.TrimPrefix(key, "rd.")
		}
		if strings.ReplaceAll(key, "-", "_") != "modules_load" {
			continue
		}
		for _, n := range strings.Split(value, ",") {
			if n != "" {
				names = append(names, n)
			}
		}
	}
	return names
}

// splitCmdline splits a kernel command line into words.
func splitCmdline(s string) []string {
	var words []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			in = true
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}
